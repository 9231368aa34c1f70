// A hook that sees every REST call the SDK makes to amlcored, for tools that show them (amlcore
// --debug).
//
//   amlcore::SetHttpLogHook([](const amlcore::HttpLogRecord& r) {
//     std::cerr << r.method << " " << r.url << " -> " << r.status << "\n";
//   });
#ifndef AMLCORE_DIAGNOSTICS_H_
#define AMLCORE_DIAGNOSTICS_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace amlcore {

// One request and its outcome. Credentials are never included: bodies are the JSON documents
// exchanged.
struct HttpLogRecord {
  std::string method;
  std::string url;           // endpoint and target, e.g. "http://127.0.0.1:41234/subscriptions/..."
  std::string request_body;  // at most the first 4 KiB
  int status = 0;            // 0 when no response arrived
  std::string error;         // why no response arrived
  std::string request_id;    // x-ms-request-id of the response
  std::string response_body;  // at most the first 4 KiB
  std::chrono::milliseconds elapsed{0};
};

// Installs `hook` for the whole process (an empty function removes it). It is called on the thread
// that made the call, after each attempt, so it must be quick and thread-safe.
void SetHttpLogHook(std::function<void(const HttpLogRecord&)> hook);

}  // namespace amlcore

#endif  // AMLCORE_DIAGNOSTICS_H_
