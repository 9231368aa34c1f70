#include "cli/values.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace amlcore::cli {
namespace bj = boost::json;

absl::StatusOr<std::map<std::string, std::string>> KeyValues(const std::vector<std::string>& items,
                                                             absl::string_view flag) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": '", item, "' is not key=value; give one pair per flag, e.g. ", flag,
                       " area=health"));
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

absl::StatusOr<bool> ParseBool(absl::string_view text, absl::string_view flag) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": '", text, "' is not a boolean; allowed: true, false."));
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("Cannot read ", path, ": no such file, or not readable."));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bj::value JsonDocument(const std::string& text) {
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec) return bj::value(bj::string(text));
  return v;
}

bj::value StringMap(const std::map<std::string, std::string>& map) {
  bj::object out;
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

bj::value WorkspaceJson(const Workspace& ws) {
  return bj::object{{"id", ws.id()},
                    {"name", ws.name()},
                    {"location", ws.location()},
                    {"resourceGroup", ws.resource_group()},
                    {"subscriptionId", ws.subscription_id()},
                    {"friendlyName", ws.friendly_name()},
                    {"description", ws.description()},
                    {"tags", StringMap(ws.tags())}};
}

// In the shape az ml prints a model (resource needs flat, "" when unset), with its files beyond it.
bj::value ModelJson(const Model& m) {
  bj::array files;
  for (const ModelFile& f : m.files()) {
    files.push_back(bj::object{{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
  }
  const auto& r = m.resource_configuration();
  auto need = [](const std::optional<double>& value) {
    return value ? bj::value(*value) : bj::value("");
  };
  return bj::object{{"id", m.id()},
                    {"name", m.name()},
                    {"version", m.version()},
                    {"createdTime", m.created_time()},
                    {"description", m.description()},
                    {"framework", m.model_framework()},
                    {"frameworkVersion", m.model_framework_version()},
                    {"tags", StringMap(m.tags())},
                    {"properties", StringMap(m.properties())},
                    {"cpu", need(r ? r->cpu : std::nullopt)},
                    {"memoryInGB", need(r ? r->memory_in_gb : std::nullopt)},
                    {"gpu", need(r ? r->gpu : std::nullopt)},
                    {"sampleInputDatasetId", m.sample_input_dataset_id()},
                    {"sampleOutputDatasetId", m.sample_output_dataset_id()},
                    {"files", std::move(files)}};
}

}  // namespace amlcore::cli
