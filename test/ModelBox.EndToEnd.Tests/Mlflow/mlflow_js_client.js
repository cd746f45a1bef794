// Drives a ModelBox server with a third-party MLflow REST client (the npm package "mlflow"), as a Node.js training
// script would, and prints what it read back as one line: RESULT {...}. Usage: node mlflow_js_client.js ENDPOINT NAME
const MLflow = require('mlflow');

(async () => {
  const [endpoint, name] = process.argv.slice(2);
  const { Experiments, Runs, Metrics, Artifacts } = new MLflow({ endpoint });
  const { experiment_id } = await Experiments.create({ name });
  const { run } = await Runs.create({
    experiment_id,
    start_time: 1700000000000,
    tags: [{ key: 'mlflow.runName', value: 'node-run' }, { key: 'mlflow.source.name', value: 'train.js' }],
  });
  const run_id = run.info.run_id;
  const metrics = [];
  for (let step = 0; step < 5; step++) {
    metrics.push({ key: 'loss', value: 1 / (step + 1), timestamp: 1700000000000 + step * 1000, step });
  }
  await Runs.logBatch({ run_id, metrics, params: [{ key: 'lr', value: '0.001' }], tags: [{ key: 'team', value: 'asr' }] });
  await Runs.logMetric({ run_id, key: 'accuracy', value: 0.97, timestamp: 1700000009000, step: 5 });
  await Runs.logParameter({ run_id, key: 'epochs', value: '5' });
  await Runs.setTag({ run_id, key: 'stage', value: 'done' });
  await Runs.update({ run_id, status: 'FINISHED', end_time: 1700000010000 });
  const found = await Runs.search({ experiment_ids: [experiment_id], filter: "metrics.accuracy > 0.9 and params.lr = '0.001'" });
  const history = await Metrics.getHistory({ run_id, metric_key: 'loss' });
  const got = await Runs.get({ run_id });
  const listed = await Experiments.list({ view_type: 'ACTIVE_ONLY' });
  const artifacts = await Artifacts.list({ run_id });
  let missing = null;
  try {
    await Runs.get({ run_id: '0123456789abcdef0123456789abcdef' });
  } catch (e) {
    missing = JSON.parse(e.message.replace(/^Error: /, ''));
  }
  console.log('RESULT ' + JSON.stringify({ experiment_id, run_id, found, history, got, listed, artifacts, missing }));
})().catch(e => {
  console.error(e);
  process.exit(1);
});
