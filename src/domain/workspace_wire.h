// The JSON document of a workspace (ARM-shaped, as azureml reads it), for the SDK and the server.
#ifndef AMLCORE_DOMAIN_WORKSPACE_WIRE_H_
#define AMLCORE_DOMAIN_WORKSPACE_WIRE_H_

#include <map>
#include <string>

#include "common/json_fields.h"

namespace amlcore::domain {

struct WorkspaceProperties {
  std::string friendly_name;
  std::string description;
  std::string creation_time;
  std::string provisioning_state = "Succeeded";
  std::string subscription_id;
  std::string resource_group;
};
constexpr auto JsonFields(const WorkspaceProperties*) {
  return json::Fields(json::Field("friendlyName", &WorkspaceProperties::friendly_name),
                      json::Field("description", &WorkspaceProperties::description),
                      json::Field("creationTime", &WorkspaceProperties::creation_time),
                      json::Field("provisioningState", &WorkspaceProperties::provisioning_state),
                      json::Field("subscriptionId", &WorkspaceProperties::subscription_id),
                      json::Field("resourceGroup", &WorkspaceProperties::resource_group));
}

// GET .../workspaces/{name}
struct WorkspaceDocument {
  std::string id;
  std::string name;
  std::string type = "Microsoft.MachineLearningServices/workspaces";
  std::string location;
  std::map<std::string, std::string> tags;
  WorkspaceProperties properties;
};
constexpr auto JsonFields(const WorkspaceDocument*) {
  return json::Fields(json::Field("id", &WorkspaceDocument::id), json::Field("name", &WorkspaceDocument::name),
                      json::Field("type", &WorkspaceDocument::type),
                      json::Field("location", &WorkspaceDocument::location),
                      json::Field("tags", &WorkspaceDocument::tags),
                      json::Field("properties", &WorkspaceDocument::properties));
}

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_WORKSPACE_WIRE_H_
