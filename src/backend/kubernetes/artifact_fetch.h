// The init container of a version's pods: fetches the version's source snapshot and model files from the
// cluster's artifact store (ConfigMaps named by content hash, see manifests.h), checks each against its
// sha256, and lays them out as amlcore-score expects (the snapshot unpacked, models under azureml-models/).
//
//   amlcore-score --fetch-artifacts /var/azureml-app     # reads AMLCORE_ARTIFACTS; exits 0 when all is there
#ifndef AMLCORE_BACKEND_KUBERNETES_ARTIFACT_FETCH_H_
#define AMLCORE_BACKEND_KUBERNETES_ARTIFACT_FETCH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/kubernetes/kube_client.h"
#include "domain/workload.h"

namespace amlcore::kubernetes {

// The bytes of the blob with this hash, reassembled from its chunks and checked (kDataLoss when they differ).
absl::StatusOr<std::string> ReadBlob(KubeClient& client, const std::string& namespace_name,
                                     const std::string& sha256);

// Writes `artifacts` under `directory`.
absl::Status FetchArtifacts(KubeClient& client, const std::string& namespace_name,
                            const domain::Artifacts& artifacts, const std::string& directory);

// The init container's program: the artifacts from the AMLCORE_ARTIFACTS variable, through the pod's service
// account. Returns the process's exit code and says on stderr what failed.
int RunFetchArtifacts(const std::string& directory);

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_ARTIFACT_FETCH_H_
