// The Azure VM sizes a cluster's agents may have. On the local backend, agent_count x size is the cluster's
// schedulable capacity.
#ifndef AMLCORE_DOMAIN_VM_SIZES_H_
#define AMLCORE_DOMAIN_VM_SIZES_H_

#include <span>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace amlcore::domain {

struct VmSize {
  absl::string_view name;
  int vcpus;
  double memory_gib;
  int gpus;
};

std::span<const VmSize> VmSizes();
// Case-insensitive lookup; unknown sizes are kInvalidArgument listing the known ones.
absl::StatusOr<VmSize> FindVmSize(absl::string_view name);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_VM_SIZES_H_
