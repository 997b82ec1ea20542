"""The operator's side: Prometheus metrics, OpenTelemetry traces, structured logs.

Below every other layer but the SDK: any module may record a metric or open a span; this
package imports nothing of Lakehold but ``errors``.
"""
