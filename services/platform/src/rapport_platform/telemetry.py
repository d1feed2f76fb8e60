"""Telemetry: tracer and meter providers, OTLP when configured, JSON logs with trace ids.

No PHI ever goes into a span attribute, metric label or log line: ids only.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pythonjsonlogger.json import JsonFormatter

_state: dict[str, object] = {}
# Stable HTTP semantic conventions: `http.server.request.duration` in seconds, the name the SRE
# dashboards use (read once, when the first HTTP instrumentation starts).
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")


class _TraceContextFilter(logging.Filter):
    """Stamps every record with the current trace and span ids, so logs join traces."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        return True


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Even at DEBUG, never the driver's command log: it prints whole documents (emails, names,
    # password and token hashes).
    logging.getLogger("pymongo").setLevel(max(logging.WARNING, root.level))


def setup_telemetry(service: str, log_level: str = "INFO") -> None:
    """Install the global providers once. OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set;
    sampling follows the standard OTEL_TRACES_SAMPLER/_ARG variables."""
    setup_logging(service, log_level)
    if "tracer_provider" in _state:
        return
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    tracer_provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    _install(tracer_provider, MeterProvider(resource=resource, metric_readers=readers))


def _install(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    _state["tracer_provider"] = tracer_provider
    _state["meter_provider"] = meter_provider
    _instrument_libraries()


def _instrument_libraries() -> None:
    # PyMongo spans carry the command name and collection, never the statement (no PHI).
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(capture_statement=False)


@dataclass
class Capture:
    """In-memory span and metric capture for tests (the whole process shares it)."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self, name: str | None = None) -> list[trace.ReadableSpan]:  # type: ignore[name-defined]
        return [s for s in self.spans.get_finished_spans() if name is None or s.name == name]


def capture_in_memory(service: str = "rapport-tests") -> Capture:
    """Install providers that keep spans and metrics in memory. Call once per test process."""
    existing = _state.get("capture")
    if isinstance(existing, Capture):
        return existing
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    _install(tracer_provider, MeterProvider(metric_readers=[reader]))
    capture = Capture(exporter, reader)
    _state["capture"] = capture
    return capture


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)


def inject(carrier: dict[str, str]) -> dict[str, str]:
    """Write the current context as W3C traceparent/tracestate into carrier."""
    propagate.inject(carrier)
    return carrier


def shutdown() -> None:
    for key in ("tracer_provider", "meter_provider"):
        provider = _state.get(key)
        if provider is not None:
            provider.shutdown()  # type: ignore[attr-defined]
