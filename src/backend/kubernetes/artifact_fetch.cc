#include "backend/kubernetes/artifact_fetch.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backend/kubernetes/manifests.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/json_fields.h"
#include "common/tar.h"

namespace amlcore::kubernetes {

absl::StatusOr<std::string> ReadBlob(KubeClient& client, const std::string& namespace_name,
                                     const std::string& sha256) {
  std::string data;
  int64_t chunks = 1;
  for (int64_t i = 0; i < chunks; ++i) {
    auto map = client.Get("ConfigMap", namespace_name, BlobChunkName(sha256, i));
    if (!map.ok()) return map.status();
    if (i == 0) {
      const json::bj::object* metadata = json::GetObject(*map, "metadata");
      const json::bj::object* annotations = metadata ? json::GetObject(*metadata, "annotations") : nullptr;
      std::string count = annotations ? json::GetString(*annotations, kChunksAnnotation) : "";
      if (!absl::SimpleAtoi(count, &chunks) || chunks < 1) {
        return absl::DataLossError(absl::StrCat("Artifact ", sha256, ": ConfigMap ", BlobChunkName(sha256, 0),
                                                " does not say how many chunks it has."));
      }
    }
    const json::bj::object* binary = json::GetObject(*map, "binaryData");
    std::string decoded;
    if (binary == nullptr || !absl::Base64Unescape(json::GetString(*binary, "data"), &decoded)) {
      return absl::DataLossError(
          absl::StrCat("Artifact ", sha256, ": ConfigMap ", BlobChunkName(sha256, i), " holds no base64 data."));
    }
    data += decoded;
  }
  if (std::string actual = Sha256Hex(data); actual != sha256) {
    return absl::DataLossError(absl::StrCat("Artifact ", sha256, " read back with sha256 ", actual,
                                            ": its ConfigMaps were changed or damaged."));
  }
  return data;
}

absl::Status FetchArtifacts(KubeClient& client, const std::string& namespace_name, const domain::Artifacts& a,
                            const std::string& directory) {
  if (auto s = MakeDirectories(directory, 0755); !s.ok()) return s;
  if (!a.snapshot.empty()) {
    auto archive = ReadBlob(client, namespace_name, a.snapshot);
    if (!archive.ok()) return archive.status();
    std::string source = a.source_directory.empty() ? directory : absl::StrCat(directory, "/", a.source_directory);
    if (auto s = CheckContainedPath(a.source_directory); !a.source_directory.empty() && !s.ok()) return s;
    if (auto s = ExtractTar(*archive, source); !s.ok()) return s;
  }
  for (const auto& m : a.models) {
    for (const auto& f : m.files) {
      if (auto s = CheckContainedPath(f.path); !s.ok()) return s;
      auto data = ReadBlob(client, namespace_name, f.sha256);
      if (!data.ok()) return data.status();
      std::string target = absl::StrCat(directory, "/azureml-models/", m.name, "/", m.version, "/", f.path);
      if (auto s = MakeDirectories(target.substr(0, target.rfind('/')), 0755); !s.ok()) return s;
      if (auto s = WriteFileAtomic(target, *data, 0444); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

int RunFetchArtifacts(const std::string& directory) {
  const char* text = std::getenv(kArtifactsVariable);
  if (text == nullptr) {
    std::cerr << "amlcore-score --fetch-artifacts: " << kArtifactsVariable << " is not set.\n";
    return 2;
  }
  auto artifacts = json::DecodeText<domain::Artifacts>(text, kArtifactsVariable);
  if (!artifacts.ok()) {
    std::cerr << "amlcore-score --fetch-artifacts: " << artifacts.status().message() << "\n";
    return 2;
  }
  auto context = LoadInClusterContext();
  if (!context.ok()) {
    std::cerr << "amlcore-score --fetch-artifacts: " << context.status().message() << "\n";
    return 1;
  }
  std::string namespace_name = context->namespace_name;
  auto client = KubeClient::Create(std::move(*context));
  if (!client.ok()) {
    std::cerr << "amlcore-score --fetch-artifacts: " << client.status().message() << "\n";
    return 1;
  }
  if (auto s = FetchArtifacts(**client, namespace_name, *artifacts, directory); !s.ok()) {
    std::cerr << "amlcore-score --fetch-artifacts: " << s.message() << "\n";
    return 1;
  }
  size_t files = 0;
  for (const auto& m : artifacts->models) files += m.files.size();
  std::cout << "Fetched " << (artifacts->snapshot.empty() ? "no source snapshot" : "the source snapshot") << " and "
            << files << " model file" << (files == 1 ? "" : "s") << " into " << directory << "\n";
  return 0;
}

}  // namespace amlcore::kubernetes
