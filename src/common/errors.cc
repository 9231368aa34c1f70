#include "common/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json.h"

namespace amlcore {
namespace {
constexpr char kErrorCodeUrl[] = "amlcore/error_code";
constexpr char kHttpStatusUrl[] = "amlcore/http_status";
constexpr char kRequestIdUrl[] = "amlcore/request_id";
constexpr char kOperationStateUrl[] = "amlcore/operation_state";
constexpr char kKindUrl[] = "amlcore/kind";

absl::Status WithPayload(absl::Status status, const char* url, absl::string_view value) {
  if (!status.ok()) status.SetPayload(url, absl::Cord(value));
  return status;
}

std::string PayloadOf(const absl::Status& status, const char* url) {
  auto payload = status.GetPayload(url);
  return payload ? std::string(*payload) : std::string();
}

struct Mapping {
  int http;
  absl::StatusCode code;
};
// The one table between HTTP statuses and status codes. Earlier rows win when mapping back.
constexpr Mapping kMappings[] = {
    {400, absl::StatusCode::kInvalidArgument}, {401, absl::StatusCode::kUnauthenticated},
    {403, absl::StatusCode::kPermissionDenied}, {404, absl::StatusCode::kNotFound},
    {409, absl::StatusCode::kAlreadyExists},   {409, absl::StatusCode::kAborted},
    {412, absl::StatusCode::kFailedPrecondition}, {413, absl::StatusCode::kResourceExhausted},
    {422, absl::StatusCode::kInvalidArgument},
    {429, absl::StatusCode::kResourceExhausted}, {499, absl::StatusCode::kCancelled},
    {501, absl::StatusCode::kUnimplemented},   {503, absl::StatusCode::kUnavailable},
    {504, absl::StatusCode::kDeadlineExceeded}, {500, absl::StatusCode::kInternal},
};
}  // namespace

absl::StatusCode StatusCodeFromHttp(int http_status) {
  for (const auto& m : kMappings) {
    if (m.http == http_status) return m.code;
  }
  if (http_status >= 200 && http_status < 300) return absl::StatusCode::kOk;
  if (http_status >= 400 && http_status < 500) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kUnknown;
}

int HttpStatusFromCode(absl::StatusCode code) {
  if (code == absl::StatusCode::kOk) return 200;
  if (code == absl::StatusCode::kOutOfRange) return 400;
  for (const auto& m : kMappings) {
    if (m.code == code) return m.http;
  }
  return 500;
}

absl::Status WithErrorCode(absl::Status status, absl::string_view error_code) {
  return WithPayload(std::move(status), kErrorCodeUrl, error_code);
}
absl::Status WithHttpStatus(absl::Status status, int http_status) {
  return WithPayload(std::move(status), kHttpStatusUrl, absl::StrCat(http_status));
}
absl::Status WithRequestId(absl::Status status, absl::string_view request_id) {
  return WithPayload(std::move(status), kRequestIdUrl, request_id);
}
absl::Status WithOperationState(absl::Status status, absl::string_view state) {
  return WithPayload(std::move(status), kOperationStateUrl, state);
}
absl::Status WithErrorKind(absl::Status status, absl::string_view kind) {
  return WithPayload(std::move(status), kKindUrl, kind);
}

absl::Status WithMessage(const absl::Status& status, absl::string_view message) {
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

std::string ErrorCodeOf(const absl::Status& status) { return PayloadOf(status, kErrorCodeUrl); }
std::optional<int> HttpStatusOf(const absl::Status& status) {
  int value;
  if (absl::SimpleAtoi(PayloadOf(status, kHttpStatusUrl), &value)) return value;
  return std::nullopt;
}
std::string RequestIdOf(const absl::Status& status) { return PayloadOf(status, kRequestIdUrl); }
std::string OperationStateOf(const absl::Status& status) {
  return PayloadOf(status, kOperationStateUrl);
}
std::string ErrorKindOf(const absl::Status& status) { return PayloadOf(status, kKindUrl); }

absl::Status MakeError(absl::StatusCode code, absl::string_view error_code, absl::string_view message) {
  return WithErrorCode(absl::Status(code, message), error_code);
}

absl::Status StatusFromHttpError(int http_status, absl::string_view body, absl::string_view request_id) {
  std::string code;
  std::string message;
  if (auto parsed = json::Parse(body); parsed.ok() && parsed->is_object()) {
    if (const auto* error = json::GetObject(parsed->as_object(), "error")) {
      code = json::GetString(*error, "code");
      message = json::GetString(*error, "message");
    } else {
      message = json::GetString(parsed->as_object(), "message");
    }
  }
  if (message.empty()) {
    message = body.empty() ? absl::StrCat("HTTP ", http_status) : std::string(body);
  }
  absl::Status status(StatusCodeFromHttp(http_status), message);
  if (!code.empty()) status = WithErrorCode(std::move(status), code);
  status = WithHttpStatus(std::move(status), http_status);
  if (!request_id.empty()) status = WithRequestId(std::move(status), request_id);
  return status;
}

}  // namespace amlcore
