// Validates Kubernetes objects against the API's OpenAPI schemas with kubernetes-models (the model of
// each object's apiVersion and kind). It is ESM only, so it runs in a node process of its own:
// a JSON array of objects on stdin, a JSON array of [kind/name, error or null] on stdout.
const read = async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
};

const results = [];
for (const object of await read()) {
  const id = `${object.kind}/${object.metadata?.name}`;
  try {
    // kubernetes-models/apps/v1/Deployment, kubernetes-models/v1/Service, ...
    const Model = (await import(`kubernetes-models/${object.apiVersion}/${object.kind}`))[object.kind];
    new Model(object).validate();
    results.push([id, null]);
  } catch (error) {
    results.push([id, error instanceof Error ? error.message : String(error)]);
  }
}
process.stdout.write(JSON.stringify(results));
