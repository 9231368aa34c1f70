#include "score/scoring_runtime.h"

#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"
#include "common/log_capture.h"
#include "common/process.h"
#include "common/utf8.h"

namespace amlcore::score {
namespace {
namespace py = pybind11;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Python glue, kept in the binary so the runtime needs nothing but the user's script.
constexpr char kGlue[] = R"PY(
import importlib.util, json, os, sys, traceback

request_id = None


class TaggedStream:
    """Writes through to a stream, prefixing each line printed during a request with the request id."""

    def __init__(self, stream):
        self._stream = stream
        self._line_start = True

    def write(self, text):
        text = str(text)
        if request_id and text:
            pieces = []
            for piece in text.splitlines(keepends=True):
                if self._line_start:
                    pieces.append(request_id + " ")
                pieces.append(piece)
                self._line_start = piece.endswith("\n")
            text = "".join(pieces)
        elif text:
            self._line_start = text.endswith("\n")
        self._stream.write(text)
        return len(text)

    def flush(self):
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def write_log(text):
    """Writes lines the runtime formatted itself (time, level, request id), past the request-id tagging."""
    stream = sys.stderr
    stream = getattr(stream, "_stream", stream)
    stream.write(text)
    stream.flush()


def install_streams():
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
        setattr(sys, name, TaggedStream(stream))


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def swagger_schemas(run):
    """run()'s input and output schemas as JSON texts ("" for none) when the script uses inference_schema."""
    if "inference_schema" not in sys.modules:
        return "", ""
    try:
        from inference_schema.schema_util import get_input_schema, get_output_schema
        schemas = get_input_schema(run), get_output_schema(run)
        return tuple(json.dumps(s) if s else "" for s in schemas)
    except Exception as e:
        print("amlcore-score: swagger.json describes generic inputs and outputs: reading run()'s schemas failed: "
              "{}: {}".format(type(e).__name__, e), file=sys.stderr)
        return "", ""


def describe(exc_type, exc, tb):
    return "".join(traceback.format_exception(exc_type, exc, tb))


def make_request(method, path, query, headers, body):
    from azureml.contrib.services.aml_request import AMLRequest
    return AMLRequest(method, path, query, headers, body)


def response_parts(result):
    """(status, [(name, value)], body bytes) of an AMLResponse (or anything shaped like one); None otherwise."""
    status = getattr(result, "status_code", None)
    if not isinstance(status, int) or isinstance(result, (str, bytes, dict, list)):
        return None
    data = result.get_data() if hasattr(result, "get_data") else getattr(result, "data", b"")
    if isinstance(data, str):
        data = data.encode("utf-8")
    headers = getattr(result, "headers", {}) or {}
    pairs = list(headers.items()) if hasattr(headers, "items") else list(headers)
    return status, [(str(k), str(v)) for k, v in pairs], bytes(data)


def batch_setting(module, name, default, low, high, whole):
    """A BATCH_* setting of the entry script: (value, None), or (None, what is wrong with it)."""
    import numbers
    value = getattr(module, name, default)
    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        return None, "{} must be {} from {} to {}; it is {!r}.".format(
            name, "a whole number" if whole else "a number of milliseconds", low, high, value)
    return (int(value) if whole else float(value)), None


def batch_results(results, count):
    """run_batch()'s return value as a list of `count` results: (list, None), or (None, what is wrong with it)."""
    if isinstance(results, (str, bytes, dict)) or not hasattr(results, "__len__"):
        return None, "run_batch() returned {}, not a list of results".format(type(results).__name__)
    if len(results) != count:
        return None, "run_batch() returned {} result{} for a batch of {} request{}".format(
            len(results), "" if len(results) == 1 else "s", count, "" if count == 1 else "s")
    return list(results), None


def failure_of(result):
    """The traceback of an exception run_batch() returned in place of a result; None for a result."""
    if not isinstance(result, BaseException):
        return None
    return "".join(traceback.format_exception(type(result), result, result.__traceback__))


def type_name(exc_type):
    """An exception's type as a reader knows it: ValueError, json.decoder.JSONDecodeError."""
    module = getattr(exc_type, "__module__", "builtins")
    name = getattr(exc_type, "__qualname__", str(exc_type))
    return name if module == "builtins" else module + "." + name
)PY";

std::string Env(const char* name, const std::string& fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

http::Response Message(int status, absl::string_view message) {
  return http::Response::Json(status, json::Serialize(json::bj::object{{"message", json::Bj(message)}}));
}

class StatusFile {
 public:
  explicit StatusFile(std::string path) : path_(std::move(path)) {}
  void Write(absl::string_view phase, uint16_t port = 0, absl::string_view reason = "",
             absl::string_view message = "", absl::string_view socket = "", size_t batch_max_size = 0) {
    if (path_.empty()) return;
    json::bj::object o{{"phase", json::Bj(phase)},
                       {"pid", static_cast<int64_t>(getpid())},
                       {"port", static_cast<int64_t>(port)},
                       {"socket", json::Bj(socket)},
                       {"reason", json::Bj(reason)},
                       {"message", json::Bj(message)},
                       {"batch_max_size", static_cast<int64_t>(batch_max_size)}};
    (void)WriteFileAtomic(path_, json::Serialize(o), 0644);
  }

 private:
  std::string path_;
};

// One scoring request on its way through Python.
struct Job {
  std::string input;
  // With a @rawhttp run(): the request as it came (input is then its body, any bytes).
  std::string method;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string request_id;
  std::string client_request_id;
  // When its front end stops waiting for it to start (kStartWithinHeader), if it said.
  std::optional<Clock::time_point> start_by;
  std::mutex mu;
  std::optional<http::Responder> responder;  // empty once answered

  // Answers once; later answers are dropped.
  void Answer(http::Response response) {
    std::optional<http::Responder> r;
    {
      std::lock_guard lock(mu);
      r.swap(responder);
    }
    if (!r) return;
    response.headers.Set("x-request-id", request_id);
    response.headers.Set("x-ms-request-id", request_id);
    if (!client_request_id.empty()) response.headers.Set("x-ms-client-request-id", client_request_id);
    std::move (*r)(std::move(response));
  }
};

// One call into the script: run() for one request, or run_batch() for several. The scoring timeout, and the
// watchdog's interruption, apply to the call as a whole.
struct ScriptCall {
  std::vector<std::shared_ptr<Job>> jobs;
  Clock::time_point started;
  unsigned long python_thread = 0;  // the thread running it, for the watchdog's interruption
  bool timed_out = false;           // guarded by Runtime::mu_

  // What print() lines during the call start with, and how the log names the call: its requests' ids.
  std::string RequestIds() const {
    std::string ids;
    for (const auto& job : jobs) absl::StrAppend(&ids, ids.empty() ? "" : ",", job->request_id);
    return ids;
  }
};

// A reply to one request of a call, before the headers every reply gets.
struct Outcome {
  http::Response response;
  bool failed = false;
};

class Runtime {
 public:
  // `log` (may be null) is flushed before the process ends abruptly.
  Runtime(const RuntimeOptions& options, LogCapture* log)
      : options_(options), status_(options.status_file), log_(log) {}

  int Run();

 private:
  // What went wrong in the script during a call, in the replica's log with the time, ERROR and the call's
  // request ids. Call with the GIL held.
  void LogScriptError(const std::string& request_ids, absl::string_view text) {
    glue_["write_log"](logging::Format(logging::Level::kError, text, request_ids));
  }

  int Fail(absl::string_view reason, const std::string& message, int exit_code) {
    exit_code_ = exit_code;
    logging::Error(absl::StrCat(reason, ": ", message));
    status_.Write("Failed", 0, reason, message.size() > 8000 ? message.substr(message.size() - 8000) : message);
    return exit_code;
  }
  std::string Describe(py::error_already_set& error) {
    try {
      return glue_["describe"](error.type(), error.value(), error.trace()).cast<std::string>();
    } catch (...) {
      return error.what();
    }
  }
  void Handle(http::Request request, http::Responder reply);
  // Runs queued jobs on this I/O thread until none is left.
  void RunJobs();
  // Takes the next call's jobs off the queue (with run_batch(), up to the batch size, after waiting for it to
  // fill) and makes it the current call; null when the queue is empty. Jobs that waited past their start_by
  // are moved to `expired` instead, to be answered unrun. Without the GIL.
  std::shared_ptr<ScriptCall> NextCall(unsigned long python_thread, std::vector<std::shared_ptr<Job>>& expired);
  // With the GIL: one outcome per job of the call, in order.
  std::vector<Outcome> CallRun(const ScriptCall& call);
  std::vector<Outcome> CallRunBatch(const ScriptCall& call);
  // The reply a result of the script stands for (json.dumps, or the AMLResponse of a @rawhttp run()).
  // Throws py::error_already_set when the result cannot be sent.
  http::Response ReplyFor(py::handle result);
  // What the script gets for a request: the body as a str, or an AMLRequest for a @rawhttp run().
  py::object InputFor(const Job& job);
  // Reads run_batch() and its limits from the loaded script; a message saying what is wrong, or "".
  std::string LoadBatching(py::object& module, const std::string& script_name);
  void WatchdogLoop();
  // The swagger.json of the service: the script's own, else one made from run()'s schemas (JSON texts, "" for a
  // generic object) as Azure ML's inference server makes it from inference_schema's decorators.
  std::string BuildSwagger(const std::string& input_schema, const std::string& output_schema) const;

  // Exits at once (no destructors, no Python finalization), after the log has what was written.
  [[noreturn]] void ExitNow(int code) {
    if (log_ != nullptr) log_->Flush();
    std::_Exit(code);
  }

  RuntimeOptions options_;
  StatusFile status_;
  LogCapture* log_;
  std::chrono::milliseconds timeout_{60000};
  std::string swagger_;
  py::object glue_;  // the glue module's namespace (a dict), set once the interpreter runs
  py::object run_;
  bool raw_ = false;  // run() is decorated with @rawhttp: it takes an AMLRequest
  // The script's run_batch(), when it has one: it takes every request instead of run(). Set before serving,
  // so that whether it is there may be read without the GIL.
  py::object run_batch_;
  size_t batch_max_size_ = kDefaultBatchMaxSize;
  Clock::duration batch_max_wait_{};
  py::object dumps_;  // json.dumps
  std::unique_ptr<http::EventLoop> loop_;

  std::mutex mu_;
  std::condition_variable watch_cv_;  // the watchdog waits for a call to time out, or to start when none runs
  std::condition_variable batch_full_cv_;  // a batch waiting to fill wakes once the queue holds a full one
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<ScriptCall> current_;
  bool python_busy_ = false;    // an I/O thread is in RunJobs
  bool filling_batch_ = false;  // RunJobs waits for a batch to fill: Handle wakes it at fill_target_
  size_t fill_target_ = 0;
  size_t held_ = 0;       // requests queued or in the current call
  size_t held_peak_ = 0;  // the most held at once since the current batch was taken: the next one expects as many
  bool watchdog_idle_ = false;  // waiting for a call to start: RunJobs wakes it
  // When the watchdog wakes next; Handle wakes it sooner for a queued request its front end stops waiting
  // for earlier (kStartWithinHeader).
  Clock::time_point watch_until_ = Clock::time_point::max();
  bool stopping_ = false;
  int exit_code_ = 0;  // what Run returns, for the shutdown deadline
};

// A schema given as JSON text, or a generic object.
json::bj::object SchemaOrObject(const std::string& text) {
  if (!text.empty()) {
    if (auto schema = json::ParseObject(text, "schema"); schema.ok()) return *schema;
  }
  return json::bj::object{{"type", "object"}};
}

std::string Runtime::BuildSwagger(const std::string& input_schema, const std::string& output_schema) const {
  // A script may ship its own swagger.json next to it or in the source directory.
  for (const std::string& dir : {Env("AZUREML_SOURCE_DIRECTORY"), Env("AML_APP_ROOT")}) {
    if (dir.empty()) continue;
    if (auto text = ReadFile(dir + "/swagger.json"); text.ok()) return *text;
  }
  std::string name = Env("AMLCORE_SERVICE_NAME", "service");
  namespace bj = json::bj;
  bj::object error_schema{{"$ref", "#/definitions/ErrorResponse"}};
  bj::object doc{
      {"swagger", "2.0"},
      {"info", bj::object{{"title", name},
                          {"description", absl::StrCat("Scoring API of the web service ", name, ".")},
                          {"version", "1.0"}}},
      {"schemes", bj::array{"http", "https"}},
      {"consumes", bj::array{"application/json"}},
      {"produces", bj::array{"application/json"}},
      {"securityDefinitions",
       bj::object{{"Bearer", bj::object{{"type", "apiKey"},
                                        {"name", "Authorization"},
                                        {"in", "header"},
                                        {"description", "The service key or token: 'Bearer <credential>'."}}}}},
      {"paths",
       bj::object{
           {"/", bj::object{{"get", bj::object{{"operationId", "ServiceHealthCheck"},
                                               {"description", "Answers 'Healthy' while the service is up."},
                                               {"responses", bj::object{{"200", bj::object{{"description", "Healthy"},
                                                                                           {"schema", bj::object{{"type", "string"}}}}},
                                                                        {"default", bj::object{{"description", "Failure"},
                                                                                               {"schema", error_schema}}}}}}}}},
           {"/score",
            bj::object{{"post", bj::object{{"operationId", "RunMLService"},
                                           {"description", "Calls the entry script's run() with the request body."},
                                           {"security", bj::array{bj::object{{"Bearer", bj::array{}}}}},
                                           {"parameters", bj::array{bj::object{{"name", "serviceInputPayload"},
                                                                               {"in", "body"},
                                                                               {"description", "What run() receives."},
                                                                               {"schema", bj::object{{"$ref", "#/definitions/ServiceInput"}}}}}},
                                           {"responses", bj::object{{"200", bj::object{{"description", "What run() returned."},
                                                                                       {"schema", bj::object{{"$ref", "#/definitions/ServiceOutput"}}}}},
                                                                    {"default", bj::object{{"description", "Failure"},
                                                                                           {"schema", error_schema}}}}}}}}}}},
      {"definitions", bj::object{{"ServiceInput", SchemaOrObject(input_schema)},
                                 {"ServiceOutput", SchemaOrObject(output_schema)},
                                 {"ErrorResponse", bj::object{{"type", "object"},
                                                              {"properties", bj::object{{"status_code", bj::object{{"type", "integer"}, {"format", "int32"}}},
                                                                                        {"message", bj::object{{"type", "string"}}}}}}}}}};
  return json::Serialize(doc);
}

void Runtime::Handle(http::Request request, http::Responder reply) {
  absl::string_view path = request.path();
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::string request_id(request.headers.Get("x-request-id").value_or(""));
  if (request_id.size() > 100) {
    return std::move(reply)(Message(431, "The x-request-id header is longer than 100 characters."));
  }
  if (request_id.empty()) request_id = RequestId();
  auto tag = [&](http::Response r) {
    r.headers.Set("x-request-id", request_id);
    r.headers.Set("x-ms-request-id", request_id);
    return r;
  };
  if (path == "/") {
    if (request.method != "GET") return std::move(reply)(tag(Message(405, "Method not allowed; use GET.")));
    return std::move(reply)(tag(http::Response::Text(200, "Healthy")));
  }
  if (path == "/swagger.json") {
    if (request.method != "GET") return std::move(reply)(tag(Message(405, "Method not allowed; use GET.")));
    return std::move(reply)(tag(http::Response::Json(200, swagger_)));
  }
  if (path != "/score") return std::move(reply)(tag(Message(404, absl::StrCat("No resource at ", path, "."))));

  auto job = std::make_shared<Job>();
  if (raw_ && (request.method == "POST" || request.method == "GET")) {
    job->method = request.method;
    job->query = std::string(request.query());
    for (const auto& [name, value] : request.headers.fields()) job->headers.emplace_back(name, value);
    job->input = std::move(request.body);
  } else if (request.method == "POST") {
    if (!IsValidUtf8(request.body)) {
      return std::move(reply)(tag(Message(400, "The request body is not valid UTF-8.")));
    }
    job->input = std::move(request.body);
  } else if (request.method == "GET") {
    json::bj::object params;
    for (absl::string_view part : absl::StrSplit(request.query(), '&', absl::SkipEmpty())) {
      size_t eq = part.find('=');
      std::string key = http::UrlDecode(part.substr(0, eq));
      if (!params.contains(key)) {
        params[key] = eq == absl::string_view::npos ? std::string() : http::UrlDecode(part.substr(eq + 1));
      }
    }
    job->input = json::Serialize(params);
  } else {
    return std::move(reply)(tag(Message(405, "Method not allowed; use POST (or GET with query parameters).")));
  }
  job->request_id = request_id;
  job->client_request_id = std::string(request.headers.Get("x-ms-client-request-id").value_or(""));
  int64_t start_within_ms = 0;
  if (auto value = request.headers.Get(kStartWithinHeader); value && absl::SimpleAtoi(*value, &start_within_ms)) {
    job->start_by = Clock::now() + std::chrono::milliseconds(start_within_ms);
  }
  job->responder.emplace(std::move(reply));
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
    held_peak_ = std::max(held_peak_, ++held_);
    if (python_busy_) {
      // The thread running Python takes it next, in the batch it is filling or the one after.
      if (filling_batch_ && queue_.size() >= fill_target_) batch_full_cv_.notify_one();
      // Unless it cannot start in time: the watchdog answers it then, not once the running call is over.
      if (queue_.back()->start_by && *queue_.back()->start_by < watch_until_) watch_cv_.notify_one();
      return;
    }
    python_busy_ = true;
  }
  // Python runs on this I/O thread, right after this handler, so the request is never handed to another
  // thread; the loop's other thread answers health probes and timeouts meanwhile.
  loop_->Defer([this] { RunJobs(); });
}

// Holds the GIL with this thread's own Python thread state, which is made on first use and kept: making one
// per request would map and unmap its data stack every time (and flush TLBs across cores).
class PythonThread {
 public:
  PythonThread() { PyEval_RestoreThread(State()); }
  ~PythonThread() { PyEval_SaveThread(); }
  PythonThread(const PythonThread&) = delete;
  PythonThread& operator=(const PythonThread&) = delete;

 private:
  static PyThreadState* State() {
    thread_local PyThreadState* state = [] {
      PyGILState_Ensure();  // never released, so the state lives as long as the thread
      return PyEval_SaveThread();
    }();
    return state;
  }
};

std::shared_ptr<ScriptCall> Runtime::NextCall(unsigned long python_thread,
                                              std::vector<std::shared_ptr<Job>>& expired) {
  std::unique_lock lock(mu_);
  if (run_batch_ && batch_max_wait_ > Clock::duration::zero() && !queue_.empty()) {
    // Waits for the requests that follow closely (a front end refilling the slots the last batch freed,
    // clients sending at once) only when there is reason to expect them: up to as many as the replica held at
    // once since the last batch was taken. A replica sent one request at a time never waits, and one whose
    // load fell waits in vain once. The wait starts when Python is free, so requests that queued while the
    // last batch ran wait at most this much more.
    fill_target_ = std::min(batch_max_size_, held_peak_);
    if (queue_.size() < fill_target_) {
      filling_batch_ = true;
      batch_full_cv_.wait_until(lock, Clock::now() + batch_max_wait_,
                                [&] { return stopping_ || queue_.size() >= fill_target_; });
      filling_batch_ = false;
    }
  }
  if (queue_.empty() || stopping_) {
    python_busy_ = false;
    return nullptr;
  }
  auto call = std::make_shared<ScriptCall>();
  size_t count = run_batch_ ? batch_max_size_ : 1;
  auto now = Clock::now();
  while (call->jobs.size() < count && !queue_.empty()) {
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->start_by && now > *job->start_by) {
      --held_;
      expired.push_back(std::move(job));
    } else {
      call->jobs.push_back(std::move(job));
    }
  }
  if (call->jobs.empty()) {
    python_busy_ = false;
    return nullptr;
  }
  held_peak_ = held_;
  call->started = Clock::now();
  call->python_thread = python_thread;
  current_ = call;
  if (watchdog_idle_) watch_cv_.notify_one();
  return call;
}

py::object Runtime::InputFor(const Job& job) {
  if (raw_) return glue_["make_request"](job.method, "/score", job.query, job.headers, py::bytes(job.input));
  return py::str(job.input);
}

http::Response Runtime::ReplyFor(py::handle result) {
  py::object parts = raw_ ? glue_["response_parts"](result) : py::none();
  if (parts.is_none()) return http::Response::Json(200, dumps_(result).cast<std::string>());
  auto [status, headers, body] =
      parts.cast<std::tuple<int, std::vector<std::pair<std::string, std::string>>, std::string>>();
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  for (auto& [name, value] : headers) response.headers.Set(name, value);
  if (!response.headers.Get("Content-Type")) response.headers.Set("Content-Type", "text/plain; charset=utf-8");
  return response;
}

std::vector<Outcome> Runtime::CallRun(const ScriptCall& call) {
  Outcome outcome;
  try {
    outcome.response = ReplyFor(run_(InputFor(*call.jobs.front())));
  } catch (py::error_already_set& error) {
    std::string trace = Describe(error);
    LogScriptError(call.RequestIds(), absl::StrCat("Exception in run():\n", trace));
    outcome = {Message(500, "An unexpected error occurred in scoring script. Check the logs for more info."), true};
  }
  std::vector<Outcome> outcomes;
  outcomes.push_back(std::move(outcome));
  return outcomes;
}

std::vector<Outcome> Runtime::CallRunBatch(const ScriptCall& call) {
  size_t count = call.jobs.size();
  auto log = [&](const std::string& text) { LogScriptError(call.RequestIds(), text); };
  // What concerns one request only is tagged with its id alone.
  auto log_for = [&](const Job& job, const std::string& text) { LogScriptError(job.request_id, text); };
  // The same failure for each request of the batch, said in the log once.
  auto fail_all = [&](const std::string& cause, const std::string& trace) {
    log(absl::StrCat(cause, trace.empty() ? "\n" : ":\n", trace));
    std::vector<Outcome> outcomes;
    for (size_t i = 0; i < count; ++i) {
      outcomes.push_back({Message(500, absl::StrCat("An unexpected error occurred in scoring script: ", cause,
                                                    ". Check the logs for more info.")),
                          true});
    }
    return outcomes;
  };
  py::list results;
  try {
    py::list inputs;
    for (const auto& job : call.jobs) inputs.append(InputFor(*job));
    py::object returned = run_batch_(inputs);
    auto [list, problem] = glue_["batch_results"](returned, count).cast<std::pair<py::object, py::object>>();
    if (!problem.is_none()) {
      return fail_all(absl::StrCat(problem.cast<std::string>(), "; it must return one result per request, in order"),
                      "");
    }
    results = py::reinterpret_borrow<py::list>(list);
  } catch (py::error_already_set& error) {
    std::string type = glue_["type_name"](error.type()).cast<std::string>();
    std::string trace = Describe(error);
    return fail_all(absl::StrCat("run_batch() raised ", type, " for a batch of ", count,
                                 count == 1 ? " request" : " requests"),
                    trace);
  }
  std::vector<Outcome> outcomes(count);
  for (size_t i = 0; i < count; ++i) {
    try {
      py::object result = results[i];
      if (py::object failure = glue_["failure_of"](result); !failure.is_none()) {
        // An exception in place of a result fails its request alone, as if run() had raised it.
        log_for(*call.jobs[i], absl::StrCat("Exception in run_batch() for request ", call.jobs[i]->request_id,
                                            ":\n", failure.cast<std::string>()));
        outcomes[i] = {Message(500, "An unexpected error occurred in scoring script. Check the logs for more info."),
                       true};
        continue;
      }
      outcomes[i].response = ReplyFor(result);
    } catch (py::error_already_set& error) {
      // Only this request's result is wrong; the others are sent.
      std::string type = glue_["type_name"](error.type()).cast<std::string>();
      std::string cause = absl::StrCat("the result run_batch() returned for request ", call.jobs[i]->request_id,
                                       " could not be sent (", type, ")");
      log_for(*call.jobs[i], absl::StrCat(cause, ":\n", Describe(error)));
      outcomes[i] = {Message(500, absl::StrCat("An unexpected error occurred in scoring script: ", cause,
                                               ". Check the logs for more info.")),
                     true};
    }
  }
  return outcomes;
}

namespace {
// The answer to a request its front end stopped waiting for before it could start.
http::Response NotStarted() {
  http::Response response = Message(503, "The request waited too long to start.");
  response.headers.Set(kNotStartedHeader, "true");
  return response;
}
}  // namespace

void Runtime::RunJobs() {
  unsigned long thread = PyThread_get_thread_ident();
  std::vector<std::shared_ptr<Job>> expired;
  // Those its front end no longer waits for: they are answered as they would have been in its queue.
  auto answer_expired = [&] {
    for (auto& job : expired) job->Answer(NotStarted());
    expired.clear();
  };
  while (std::shared_ptr<ScriptCall> call = NextCall(thread, expired)) {
    answer_expired();
    std::vector<Outcome> outcomes;
    bool timed_out;
    {
      PythonThread python;
      glue_["request_id"] = call->RequestIds();
      outcomes = run_batch_ ? CallRunBatch(*call) : CallRun(*call);
      glue_["request_id"] = py::none();
      {
        // The watchdog interrupts only the current call; once it is over, nothing may hit the next one.
        std::lock_guard lock(mu_);
        current_.reset();
        timed_out = call->timed_out;
        // Before any reply goes out: a client's next request must not find its last one still counted.
        held_ -= call->jobs.size();
      }
      PyThreadState_SetAsyncExc(thread, nullptr);
    }  // no Python while the replies are written
    double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - call->started).count();
    for (size_t i = 0; i < call->jobs.size(); ++i) {
      Outcome& outcome = outcomes[i];
      if (timed_out) {
        // Answered only now that the script has stopped, so that whoever waits for this reply (the front end)
        // knows the replica is free again; whatever it produced after its timeout is dropped.
        outcome = {Message(500, absl::StrCat("Scoring timeout after ", timeout_.count(), " ms")), true};
      }
      outcome.response.headers.Set("x-ms-run-function-failed", outcome.failed ? "True" : "False");
      outcome.response.headers.Set("x-ms-run-fn-exec-ms", absl::StrFormat("%.3f", elapsed_ms));
      call->jobs[i]->Answer(std::move(outcome.response));
    }
  }
  answer_expired();
}

// Sleeps until the running call's deadline, or until a call starts when none runs: under steady traffic it
// wakes about once a timeout period, not once a request.
void Runtime::WatchdogLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Queued requests whose front end stopped waiting for them to start are answered now, unrun.
    std::vector<std::shared_ptr<Job>> expired;
    auto now = Clock::now();
    Clock::time_point earliest_start_by = Clock::time_point::max();
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->start_by && now > *(*it)->start_by) {
        expired.push_back(std::move(*it));
        it = queue_.erase(it);
        --held_;
        continue;
      }
      if ((*it)->start_by) earliest_start_by = std::min(earliest_start_by, *(*it)->start_by);
      ++it;
    }
    if (!expired.empty()) {
      lock.unlock();
      for (auto& job : expired) job->Answer(NotStarted());
      lock.lock();
      continue;
    }
    if (!current_) {
      watchdog_idle_ = true;
      watch_cv_.wait(lock);
      watchdog_idle_ = false;
      continue;
    }
    std::shared_ptr<ScriptCall> call = current_;
    if (call->timed_out) {
      // Interrupted already; wait for run() to give up, within a grace period.
      auto grace = call->started + timeout_ + std::max(timeout_, std::chrono::milliseconds(2000));
      watch_cv_.wait_until(lock, std::min(grace, Clock::now() + std::chrono::milliseconds(100)));
      if (current_ == call && Clock::now() > grace) {
        // run() ignored the interruption; only a fresh process can serve again.
        std::string ids = call->RequestIds();
        size_t count = call->jobs.size();
        lock.unlock();
        status_.Write("Failed", 0, "ScoringTimeout",
                      absl::StrCat(run_batch_ ? "run_batch()" : "run()", " did not return after its ", timeout_.count(),
                                   " ms timeout (", count == 1 ? "request " : "requests ", ids, "); restarting."));
        logging::Error(absl::StrCat(run_batch_ ? "run_batch()" : "run()",
                                    " did not return after its timeout; exiting so the replica restarts"));
        ExitNow(kExitStuck);
      }
      continue;
    }
    auto deadline = call->started + timeout_;
    if (Clock::now() < deadline) {
      watch_until_ = std::min(deadline, earliest_start_by);
      watch_cv_.wait_until(lock, watch_until_);
      watch_until_ = Clock::time_point::max();
      continue;
    }
    // Interrupted, not answered: the reply goes out when run() stops, or the connection closes when the
    // process exits after the grace period, so the replica is not taken for free while run() still works.
    call->timed_out = true;
    lock.unlock();
    {
      py::gil_scoped_acquire gil;
      lock.lock();
      // Only while the call still runs: an interruption must not land in the next one.
      if (current_ == call) PyThreadState_SetAsyncExc(call->python_thread, PyExc_TimeoutError);
      lock.unlock();
    }
    lock.lock();
  }
}

std::string Runtime::LoadBatching(py::object& module, const std::string& script_name) {
  bool has_settings = false;
  for (const char* name : {"BATCH_MAX_SIZE", "BATCH_MAX_WAIT_MS"}) has_settings |= py::hasattr(module, name);
  if (!py::hasattr(module, "run_batch")) {
    if (has_settings) {
      logging::Warning(absl::StrCat(script_name,
                                    " sets BATCH_MAX_SIZE or BATCH_MAX_WAIT_MS but defines no run_batch(); run() takes "
                                    "each request alone"));
    }
    return "";
  }
  py::object run_batch = module.attr("run_batch");
  if (!PyCallable_Check(run_batch.ptr())) {
    return absl::StrCat("The entry script ", script_name, " sets run_batch to ",
                        py::repr(run_batch).cast<std::string>(),
                        "; it must be a function taking a list of requests and returning a list of results.");
  }
  if (py::hasattr(run_batch, "_amlcore_rawhttp") && py::bool_(run_batch.attr("_amlcore_rawhttp")) && !raw_) {
    return absl::StrCat("The entry script ", script_name,
                        " decorates run_batch() with @rawhttp but not run(); run_batch() takes what run() takes, so "
                        "decorate both or neither.");
  }
  auto setting = [&](const char* name, py::object fallback, int low, int high, bool whole, double& value) {
    auto [number, problem] =
        glue_["batch_setting"](module, name, fallback, low, high, whole).cast<std::pair<py::object, py::object>>();
    if (!problem.is_none()) return absl::StrCat("The entry script ", script_name, ": ", problem.cast<std::string>());
    value = number.cast<double>();
    return std::string();
  };
  double size = 0, wait_ms = 0;
  if (std::string problem = setting("BATCH_MAX_SIZE", py::int_(kDefaultBatchMaxSize), 1, kMaxBatchMaxSize, true, size);
      !problem.empty()) {
    return problem;
  }
  if (std::string problem =
          setting("BATCH_MAX_WAIT_MS", py::float_(kDefaultBatchMaxWaitMs), 0, kMaxBatchMaxWaitMs, false, wait_ms);
      !problem.empty()) {
    return problem;
  }
  run_batch_ = run_batch;
  batch_max_size_ = static_cast<size_t>(size);
  batch_max_wait_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(wait_ms));
  logging::Info(absl::StrCat("run_batch() takes every request, up to ", batch_max_size_, " at once, waiting up to ",
                             wait_ms, " ms for a batch to fill"));
  return "";
}

int Runtime::Run() {
  std::string app_root = Env("AML_APP_ROOT", fs::current_path().string());
  std::string source_dir = Env("AZUREML_SOURCE_DIRECTORY", app_root);
  std::string entry = Env("AZUREML_ENTRY_SCRIPT");
  if (entry.empty()) return Fail("UserScriptImportFailed", "AZUREML_ENTRY_SCRIPT is not set.", kExitImportFailed);
  fs::path script = fs::path(entry).is_absolute() ? fs::path(entry) : fs::path(source_dir) / entry;
  int64_t timeout_ms = 60000;
  if (!absl::SimpleAtoi(Env("SCORING_TIMEOUT_MS", "60000"), &timeout_ms) || timeout_ms <= 0) timeout_ms = 60000;
  timeout_ = std::chrono::milliseconds(timeout_ms);
  status_.Write("Loading");

  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  std::string python = Env("AMLCORE_PYTHON", "/usr/bin/python3");
  PyConfig_SetBytesString(&config, &config.program_name, python.c_str());
  py::scoped_interpreter interpreter(&config, 0, nullptr, false);
  // Declared after the interpreter, so that it runs first on every way out of Run (a failed import or init
  // included): the Python objects the runtime holds must go while the interpreter still runs, and with the
  // GIL, which this thread holds outside the serving block. Dropped after finalization they crash the process.
  // Finalizing waits for the threads the script started; one that never ends must not keep a failed
  // replica from exiting, so finalization gets a deadline.
  struct ReleaseBeforeFinalizing {
    Runtime* runtime;
    ~ReleaseBeforeFinalizing() {
      runtime->run_ = py::object();
      runtime->run_batch_ = py::object();
      runtime->dumps_ = py::object();
      runtime->glue_ = py::object();
      std::thread([log = runtime->log_, code = runtime->exit_code_] {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        logging::Warning(
            "Python did not finish within 3 s of shutting down (a thread the script started is still running); "
            "exiting anyway");
        if (log != nullptr) log->Flush();
        std::_Exit(code);
      }).detach();
    }
  } release_before_finalizing{this};
  try {
    py::dict glue;
    py::exec(kGlue, glue);
    glue_ = glue;
    glue_["install_streams"]();
    py::list path = py::module_::import("sys").attr("path");
    std::vector<std::string> extra = {script.parent_path().string(), source_dir};
    for (absl::string_view p : absl::StrSplit(Env("AMLCORE_PYTHONPATH"), ':', absl::SkipEmpty())) {
      extra.emplace_back(p);
    }
    // Unless told (a local front end tells it), amlcore's modules come from the Python package this program is
    // part of (<site-packages>/amlcore/bin/amlcore-score), as in the runtime image.
    if (Env("AMLCORE_PYTHONPATH").empty()) {
      std::error_code ec;
      std::filesystem::path package = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().parent_path();
      if (!ec && std::filesystem::exists(package / "_shims", ec)) {
        extra.push_back((package / "_shims").string());
        extra.push_back(package.parent_path().string());
      }
    }
    for (auto it = extra.rbegin(); it != extra.rend(); ++it) path.insert(0, *it);
  } catch (py::error_already_set& e) {
    return Fail("UserScriptImportFailed", Describe(e), kExitImportFailed);
  }

  // What the environment does not honour, where the replica's log shows it.
  for (absl::string_view warning : absl::StrSplit(Env("AMLCORE_ENVIRONMENT_WARNINGS"), '\n', absl::SkipEmpty())) {
    // Said as a warning-level line: "WARNING amlcore-score: requirement ... is not installed; ...".
    absl::ConsumePrefix(&warning, "WARNING: ");
    logging::Warning(warning);
  }
  logging::Info(absl::StrCat("loading ", script.string(), " with ", python));
  py::object module;
  try {
    module = glue_["load"](script.string());
  } catch (py::error_already_set& e) {
    return Fail("UserScriptImportFailed", absl::StrCat("Loading ", script.string(), " failed:\n", Describe(e)),
                kExitImportFailed);
  }
  for (const char* name : {"init", "run"}) {
    if (!py::hasattr(module, name) || !PyCallable_Check(module.attr(name).ptr())) {
      return Fail("UserScriptImportFailed",
                  absl::StrCat("The entry script ", script.filename().string(), " defines no ", name,
                               "() function; it needs init() and run(data)."),
                  kExitImportFailed);
    }
  }
  run_ = module.attr("run");
  raw_ = py::hasattr(run_, "_amlcore_rawhttp") && py::bool_(run_.attr("_amlcore_rawhttp"));
  {
    auto [input_schema, output_schema] = glue_["swagger_schemas"](run_).cast<std::pair<std::string, std::string>>();
    swagger_ = BuildSwagger(input_schema, output_schema);
  }
  dumps_ = py::module_::import("json").attr("dumps");
  try {
    if (std::string problem = LoadBatching(module, script.filename().string()); !problem.empty()) {
      return Fail("UserScriptImportFailed", problem, kExitImportFailed);
    }
  } catch (py::error_already_set& e) {
    return Fail("UserScriptImportFailed", absl::StrCat("Reading run_batch() and its settings failed:\n", Describe(e)),
                kExitImportFailed);
  }
  status_.Write("Initializing");
  try {
    module.attr("init")();
  } catch (py::error_already_set& e) {
    return Fail("UserScriptInitFailed", absl::StrCat("init() raised an exception:\n", Describe(e)), kExitInitFailed);
  }

  loop_ = std::make_unique<http::EventLoop>(std::max(2, options_.io_threads));
  auto server = http::Server::Start(
      http::ServerOptions{.host = options_.host,
                          .port = options_.port,
                          .unix_socket = options_.unix_socket,
                          .make_error = [](int status, std::string message,
                                         absl::string_view) { return Message(status, message); },
                          .loop = loop_.get()},
      [this](http::Request request, http::Responder reply) { Handle(std::move(request), std::move(reply)); });
  if (!server.ok()) return Fail("ServerStartFailed", std::string(server.status().message()), 1);
  status_.Write("Ready", (*server)->port(), "", "", options_.unix_socket, run_batch_ ? batch_max_size_ : 0);
  if (options_.unix_socket.empty()) {
    logging::Info(absl::StrCat("ready on ", options_.host, ":", (*server)->port()));
  } else {
    logging::Info(absl::StrCat("ready on unix:", options_.unix_socket));
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  {
    py::gil_scoped_release release;
    std::thread watchdog([this] { WatchdogLoop(); });
    sigwait(&signals, &received);
    logging::Info(absl::StrCat("stopping on signal ", received));
    (*server)->Stop();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& job : queue_) job->Answer(Message(503, "The replica is shutting down."));
      queue_.clear();
      watch_cv_.notify_all();
      batch_full_cv_.notify_all();
    }
    watchdog.join();
    loop_->Stop();  // a run() in progress finishes first
  }
  return 0;
}

}  // namespace

int RunScoringServer(const RuntimeOptions& options) {
  // Signals are taken by sigwait; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<LogCapture> log;
  if (!options.log_file.empty()) {
    auto capture = LogCapture::Start(options.log_file, {});
    if (capture.ok()) {
      log = std::move(*capture);
    } else {
      logging::Warning(absl::StrCat(capture.status().message(), "; output is not size-limited"));
    }
  }
  Runtime runtime(options, log.get());
  return runtime.Run();
}

}  // namespace amlcore::score
