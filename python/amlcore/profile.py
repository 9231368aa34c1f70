"""ModelProfile, as in ``azureml.core.profile``: the result of ``Model.profile``.

amlcore profiles on this machine: the entry script runs with its models in a scoring replica of its own (as a
deployment runs it, on the runtime's Python), ``init()`` once and ``run()`` once per row of the input dataset, one
at a time. The recommendations are the measured CPU use and peak memory plus 20 %, rounded up to 0.1, within the
``cpu`` and ``memory_in_gb`` asked for. Profiles are not stored by the workspace server.
"""

import warnings

from amlcore.exceptions import WebserviceException

__all__ = ["ModelProfile"]

_FAILURE = "Model profiling operation failed: %s"
_PARTIAL = "Model profiling finished, with this to note: %s"

# azureml's detail keys, and the core's fields they come from.
_FIELDS = [
    ("name", "name"), ("description", "description"), ("state", "state"), ("createdTime", "created_time"),
    ("requestedCpu", "requested_cpu"), ("requestedMemoryInGB", "requested_memory_in_gb"),
    ("inputDatasetId", "input_dataset_id"), ("modelIds", "model_ids"), ("totalQueries", "total_queries"),
    ("successQueries", "success_queries"), ("successRate", "success_rate"),
    ("averageLatencyInMs", "average_latency_ms"), ("latencyPercentile50InMs", "latency_p50_ms"),
    ("latencyPercentile90InMs", "latency_p90_ms"), ("latencyPercentile95InMs", "latency_p95_ms"),
    ("latencyPercentile99InMs", "latency_p99_ms"), ("latencyPercentile999InMs", "latency_p999_ms"),
    ("measuredQueriesPerSecond", "measured_queries_per_second"), ("maxUtilizedCpu", "max_utilized_cpu"),
    ("maxUtilizedMemoryInGB", "max_utilized_memory_gb"), ("recommendedCpu", "recommended_cpu"),
    ("recommendedMemoryInGB", "recommended_memory_gb"),
]
_DETAILS_SUCCESS = {"requestedCpu", "requestedMemoryInGB", "requestedQueriesPerSecond", "maxUtilizedMemoryInGB",
                    "maxUtilizedCpu", "totalQueries", "successQueries", "successRate", "averageLatencyInMs",
                    "latencyPercentile50InMs", "latencyPercentile90InMs", "latencyPercentile95InMs",
                    "latencyPercentile99InMs", "latencyPercentile999InMs", "measuredQueriesPerSecond", "state",
                    "name", "description", "createdTime", "error", "recommendedCpu", "recommendedMemoryInGB"}
_DETAILS_ERROR = {"name", "description", "state", "requestedCpu", "requestedMemoryInGB",
                  "requestedQueriesPerSecond", "error", "errorLogsUri", "createdTime"}


class ModelProfile:
    """The result of ``Model.profile``: ``wait_for_completion()``, then ``recommended_cpu``,
    ``recommended_memory`` and ``get_details()``."""

    def __init__(self, workspace, name):
        raise WebserviceException("Model profiling result with name {} not found in provided workspace (amlcore "
                                  "keeps profiles in the object Model.profile returns).".format(name))

    @classmethod
    def _wrap(cls, workspace, core):
        profile = cls.__new__(cls)
        profile.workspace = workspace
        profile._core = core
        return profile

    def _details(self):
        return self._core.details()

    def wait_for_completion(self, show_output=False):
        """Wait until profiling finishes; a failure (or what was noted) is a warning, as in azureml."""
        self._core.wait_for_completion(bool(show_output))
        details = self._details()
        if details.state == "Failed":
            warnings.warn(_FAILURE % details.error, category=UserWarning, stacklevel=2)
        elif details.error:
            warnings.warn(_PARTIAL % details.error, category=UserWarning, stacklevel=2)

    def serialize(self):
        """All of the profile as azureml's JSON dictionary."""
        details = self._details()
        out = {key: getattr(details, field) for key, field in _FIELDS}
        out["modelIds"] = list(details.model_ids)
        out["error"] = {"message": details.error} if details.error else None
        out.update(id=None, requestedQueriesPerSecond=None, environment=None, errorLogsUri=None)
        return out

    def get_details(self):
        """The measurements and recommendations (on success), or what went wrong."""
        serialized = self.serialize()
        keys = _DETAILS_SUCCESS if serialized["state"] == "Succeeded" else _DETAILS_ERROR
        return {k: v for k, v in serialized.items() if v is not None and k in keys}

    def __getattr__(self, name):
        fields = {"name": "name", "description": "description", "state": "state", "created_time": "created_time",
                  "requested_cpu": "requested_cpu", "requested_memory_in_gb": "requested_memory_in_gb",
                  "input_dataset_id": "input_dataset_id", "model_ids": "model_ids",
                  "total_queries": "total_queries", "success_queries": "success_queries",
                  "success_rate": "success_rate", "average_latency_in_ms": "average_latency_ms",
                  "latency_percentile_50_in_ms": "latency_p50_ms", "latency_percentile_90_in_ms": "latency_p90_ms",
                  "latency_percentile_95_in_ms": "latency_p95_ms", "latency_percentile_99_in_ms": "latency_p99_ms",
                  "latency_percentile_999_in_ms": "latency_p999_ms",
                  "measured_queries_per_second": "measured_queries_per_second",
                  "max_utilized_cpu": "max_utilized_cpu", "max_utilized_memory": "max_utilized_memory_gb",
                  "recommended_cpu": "recommended_cpu", "recommended_memory": "recommended_memory_gb"}
        if name in fields and "_core" in self.__dict__:
            value = getattr(self._details(), fields[name])
            return list(value) if name == "model_ids" else value
        if name in ("id", "requested_queries_per_second", "environment", "error_logs_url"):
            return None
        if name == "error" and "_core" in self.__dict__:
            error = self._details().error
            return {"message": error} if error else None
        raise AttributeError(name)

    def __repr__(self):
        return "ModelProfile(workspace={!r}, name={}, state={})".format(self.workspace, self.name, self.state)
