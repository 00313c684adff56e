import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'graphql';
import YAML from 'yaml';
import { composeServices } from '@apollo/composition';

export const ROOT = path.resolve(__dirname, '../..');
export const SUPERGRAPH_CONFIG = path.join(ROOT, 'supergraph.yaml');
export const SUPERGRAPH_FILE = path.join(ROOT, 'supergraph.graphql');

interface SupergraphConfig {
  federation_version: string;
  subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
}

export function readSupergraphConfig(): SupergraphConfig {
  return YAML.parse(fs.readFileSync(SUPERGRAPH_CONFIG, 'utf8')) as SupergraphConfig;
}

/** A subgraph as composition takes it: name, routing URL, SDL. */
export type ServiceDefinition = Parameters<typeof composeServices>[0][number];

export type CompositionResult = { ok: true; supergraphSdl: string } | { ok: false; errors: string[] };

/** Composes the subgraph schemas named in supergraph.yaml, and `extra` ones (a test's own subgraph, say). */
export function composeSupergraph(extra: ServiceDefinition[] = []): CompositionResult {
  const config = readSupergraphConfig();
  const services = Object.entries(config.subgraphs).map(([name, subgraph]) => ({
    name,
    url: subgraph.routing_url,
    typeDefs: parse(fs.readFileSync(path.resolve(ROOT, subgraph.schema.file), 'utf8')),
  }));
  const result = composeServices([...services, ...extra]);
  if (result.errors) return { ok: false, errors: result.errors.map((e) => e.message) };
  return { ok: true, supergraphSdl: `${result.supergraphSdl.trimEnd()}\n` };
}
