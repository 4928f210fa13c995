"""RPC counts and latencies by method and status code, for the metrics endpoint."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ..metrics import Metrics
from .handlers import Behaviour, wrap


def _code(context: grpc.aio.ServicerContext, failed: bool) -> str:
    try:
        code = context.code()
    except Exception:
        code = None
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if failed else "OK"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._timed: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        timed = self._timed.get(details.method)
        if timed is None:  # built once per method
            timed = self._timed[details.method] = self._time(handler, details.method)
        return timed

    def _time(self, handler: grpc.RpcMethodHandler, full_method: str) -> grpc.RpcMethodHandler:
        method = full_method.rsplit("/", 1)[-1]
        record = self.metrics.observe_rpc

        def unary(behaviour: Behaviour) -> Behaviour:
            async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
                start, failed = time.perf_counter(), True
                try:
                    result = await behaviour(request, context)
                    failed = False
                    return result
                finally:
                    record(method, _code(context, failed), time.perf_counter() - start)

            return timed

        def streaming(behaviour: Behaviour) -> Behaviour:
            async def timed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                start, failed = time.perf_counter(), True
                try:
                    async for item in behaviour(request, context):
                        yield item
                    failed = False
                finally:
                    record(method, _code(context, failed), time.perf_counter() - start)

            return timed

        return wrap(handler, unary, streaming)
