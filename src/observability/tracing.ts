import type { Config } from '../config.js';
import { activeTracer, setTracingActive } from './tracing-spans.js';

/** Flushes the spans still buffered and takes the process's tracer provider down. */
export type StopTracing = () => Promise<void>;

const NOTHING_TO_STOP: StopTracing = async () => {};

/**
 * Starts OpenTelemetry tracing for this process when an OTLP/HTTP traces endpoint is configured
 * (`tracing.otlpUrl`, the full URL, e.g. http://collector:4318/v1/traces); otherwise does nothing,
 * and the spans product code asks for (tracing-spans.ts) stay off. Tracing is process-wide: call
 * this once per process. The SDK is loaded only here, and only when tracing is on.
 *
 * Spans are batched and exported in the background as OTLP JSON; head sampling keeps a new trace
 * with probability `sampleRatio` and follows the caller's decision for a propagated one
 * (ParentBased(TraceIdRatioBased)); W3C trace-context is the propagator (HTTP headers, bus messages).
 */
export async function startTracing(
  tracing: Config['tracing'],
  nodeId: string,
): Promise<StopTracing> {
  // off, or already on in this process (a second server in it shares the first one's provider)
  if (!tracing.otlpUrl || activeTracer()) return NOTHING_TO_STOP;
  const [api, core, resources, sdk, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const provider = new sdk.NodeTracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': tracing.serviceName,
      'service.instance.id': nodeId,
    }),
    sampler: new sdk.ParentBasedSampler({
      root: new sdk.TraceIdRatioBasedSampler(tracing.sampleRatio),
    }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: tracing.otlpUrl })),
    ],
  });
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  setTracingActive(true);
  let stopped: Promise<void> | undefined;
  return () =>
    (stopped ??= (async () => {
      setTracingActive(false);
      try {
        await provider.forceFlush();
        await provider.shutdown();
      } finally {
        // a later startTracing in the same process (tests) registers afresh
        api.trace.disable();
        api.context.disable();
        api.propagation.disable();
      }
    })());
}
