// amlcore-score as a library: runs a user's score.py (init() once, run() per request) in embedded CPython
// behind an HTTP server compatible with Azure ML's inference server.
//
// Configuration comes from the environment, as in Azure ML: AZUREML_ENTRY_SCRIPT, AML_APP_ROOT,
// AZUREML_MODEL_DIR, AZUREML_SOURCE_DIRECTORY, SCORING_TIMEOUT_MS; plus AMLCORE_PYTHON (the interpreter whose
// environment to use, e.g. a venv's bin/python), AMLCORE_PYTHONPATH (extra import paths),
// AMLCORE_SERVICE_NAME and AMLCORE_ENVIRONMENT_WARNINGS (lines the log starts with: what the environment does not
// honour). Progress is published in a status file the supervisor reads.
//
// A run() still going after SCORING_TIMEOUT_MS is interrupted with TimeoutError; its request is answered
// 500 "Scoring timeout after N ms" once run() has stopped, so the reply also says the replica is free. A
// run() that ignores the interruption for a grace period ends the process (kExitStuck) without a reply.
//
// Adaptive batching, beyond Azure ML: a script that also defines run_batch(requests) gets every scoring
// request through it instead of run(). `requests` is a list of what run() would get (each body as a str, or
// an AMLRequest when run() is @rawhttp); it returns a list of as many results, in order, each turned into its
// request's reply as run()'s return value would be; an exception in place of a result fails its request
// alone, as if run() had raised it. Requests that arrive while a batch runs queue up; the next batch takes up
// to BATCH_MAX_SIZE of them (a module-level setting of the script, checked on load; defaults and bounds
// below). Before it starts, it waits up to BATCH_MAX_WAIT_MS for more while it holds fewer requests than the
// replica held at once since the last batch began, so a replica sent one request at a time never waits. The
// scoring timeout applies to a batch as a whole, and so do an exception raised or a wrong number of results:
// each request of that batch is answered 500 with a message naming the cause. print() output during
// run_batch() carries the ids of the batch's requests, joined by commas; each reply's x-ms-run-fn-exec-ms is
// the batch's.
#ifndef AMLCORE_SCORE_SCORING_RUNTIME_H_
#define AMLCORE_SCORE_SCORING_RUNTIME_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "domain/workload.h"

namespace amlcore::score {

struct RuntimeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // Listens on this Unix socket (mode 0600) instead of host and port: what a cluster's front end starts
  // replicas with, so that only it (and the user who owns the socket's directory) can reach them.
  std::string unix_socket;
  // JSON: {"phase", "pid", "port", "socket", "reason", "message", "batch_max_size"}; batch_max_size is the
  // script's BATCH_MAX_SIZE once Ready when it defines run_batch(), else 0: how many requests at once the
  // replica can put to use.
  std::string status_file;
  // When set, stdout and stderr (the script's, its children's, ours) go through a pipe into this file, which
  // is kept under 10 MB: past it the file becomes "<log_file>.1" (replacing the one before) and a new one
  // starts. Without it they go wherever they pointed when the process started.
  std::string log_file;
  // I/O threads, at least 2: Python runs on one of them per request, the other answers probes and timeouts.
  int io_threads = 2;
};

// run_batch()'s limits: what a script gets without BATCH_MAX_SIZE / BATCH_MAX_WAIT_MS, and what it may set.
inline constexpr int kDefaultBatchMaxSize = 32;
inline constexpr int kMaxBatchMaxSize = 1024;
inline constexpr double kDefaultBatchMaxWaitMs = 2;
inline constexpr int kMaxBatchMaxWaitMs = 1000;

// A front end that delivers a request to a replica still busy with others (pipelined dispatch) says how long
// the request may wait there to start, in milliseconds, as it would have waited in its own queue; a request
// still waiting then is answered 503 with kNotStartedHeader, unrun, and the front end answers it as overloaded.
inline constexpr char kStartWithinHeader[] = "x-amlcore-start-within-ms";
inline constexpr char kNotStartedHeader[] = "x-amlcore-not-started";

// Exit codes, which the supervisor also reads from the status file as reasons.
inline constexpr int kExitImportFailed = domain::kReplicaExitImportFailed;
inline constexpr int kExitInitFailed = domain::kReplicaExitInitFailed;
inline constexpr int kExitStuck = domain::kReplicaExitStuck;

// Loads the script, calls init(), serves until SIGTERM/SIGINT; returns the process exit code.
int RunScoringServer(const RuntimeOptions& options);

}  // namespace amlcore::score

#endif  // AMLCORE_SCORE_SCORING_RUNTIME_H_
