// bull-board (the peer most teams run) serving the same BullMQ world as the monitor, for
// side-by-side benchmarks: `node bench/bull-board.mjs '{"redis": "redis://…", "prefix": "bench",
// "queues": ["big"]}'` listens on a free port of 127.0.0.1, prints one line
// `{"address": "http://127.0.0.1:<port>"}`, and serves until stdin closes or SIGTERM.
// Its REST API is bull-board's own: `GET /api/queues?activeQueue=<q>&status=failed&page=1&jobsPerPage=50`.
import express from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { connectionFromUrl, library } from '../fixtures/world.mjs';

const spec = JSON.parse(process.argv[2] ?? '{}');
const { Queue } = library(spec.bullmq ?? 6);
const connection = connectionFromUrl(spec.redis);
const queues = (spec.queues ?? []).map((name) => new Queue(name, { connection, prefix: spec.prefix }));

const serverAdapter = new ExpressAdapter();
serverAdapter.setBasePath('/');
createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue)), serverAdapter });
const app = express();
app.use('/', serverAdapter.getRouter());

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ address: `http://127.0.0.1:${server.address().port}` })}\n`);
});

const stop = async () => {
  server.close();
  await Promise.all(queues.map((queue) => queue.close()));
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
