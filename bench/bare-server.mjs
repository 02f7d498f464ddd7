// Baseline: a bare Fastify route returning a Patient-sized JSON document, no auth, no store.
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

const patient = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const app = Fastify({ logger: false });
app.get('/Patient/:id', async () => patient);
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
process.send?.('ready');
