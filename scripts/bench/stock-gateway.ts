/**
 * A stock @apollo/gateway behind @apollo/server's standalone server, every setting at its default:
 * the peer bench:gateway measures ours against. SUPERGRAPH_FILE names the supergraph (its routing
 * URLs are the subgraphs it calls), PORT where it listens on 127.0.0.1.
 */
import fs from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway } from '@apollo/gateway';

async function main(): Promise<void> {
  const gateway = new ApolloGateway({ supergraphSdl: fs.readFileSync(process.env.SUPERGRAPH_FILE!, 'utf8') });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, { listen: { port: Number(process.env.PORT), host: '127.0.0.1' } });
  console.log(`stock gateway ready at ${url}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
