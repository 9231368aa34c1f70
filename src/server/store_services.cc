// Store methods for models, environments and web services.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "server/store.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;

std::string FilesToText(const std::vector<ModelFile>& files) {
  bj::array list;
  for (const auto& f : files) list.push_back(bj::object{{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
  return json::Serialize(list);
}

std::vector<ModelFile> FilesFromText(const std::string& text) {
  std::vector<ModelFile> out;
  auto parsed = json::Parse(text);
  if (!parsed.ok() || !parsed->is_array()) return out;
  for (const auto& f : parsed->as_array()) {
    if (!f.is_object()) continue;
    const auto& o = f.as_object();
    out.push_back({json::GetString(o, "path"), json::GetString(o, "sha256"), json::GetInt(o, "size")});
  }
  return out;
}

constexpr char kModelColumns[] =
    "id, workspace_id, name, version, description, tags, properties, framework, framework_version, files, created, "
    "datasets, sample_input_data, sample_output_data, resource_requirements";

// A JSON column decoded into `out`; unreadable text leaves it as it was.
template <class T>
void DecodeColumn(const std::string& text, T* out) {
  if (text.empty()) return;
  if (auto parsed = json::Parse(text); parsed.ok()) (void)json::Decode(*parsed, out);
}

ModelRecord ModelFromRow(const Row& r) {
  ModelRecord m;
  m.id = r.Int(0);
  m.workspace_id = r.Int(1);
  m.model.name = r.Text(2);
  m.model.version = r.Int(3);
  m.model.description = r.Text(4);
  m.model.tags = MapFromText(r.Text(5));
  m.model.properties = MapFromText(r.Text(6));
  m.model.framework = r.Text(7);
  m.model.framework_version = r.Text(8);
  m.model.files = FilesFromText(r.Text(9));
  m.model.created_time = r.Text(10);
  DecodeColumn(r.Text(11), &m.model.datasets);
  m.model.sample_input_data = r.Text(12);
  m.model.sample_output_data = r.Text(13);
  DecodeColumn(r.Text(14), &m.model.resource_requirements);
  return m;
}

constexpr char kEnvironmentColumns[] = "id, workspace_id, name, version, definition, created";

EnvironmentRecord EnvironmentFromRow(const Row& r) {
  return EnvironmentRecord{r.Int(0), r.Int(1), r.Text(2), r.Int(3), r.Text(4), r.Text(5)};
}

constexpr char kServiceColumns[] =
    "id, workspace_id, name, kind, compute_name, cluster_id, state, phase, reason, error, primary_key, "
    "secondary_key, description, tags, properties, created, updated, endpoint_config";

ServiceRecord ServiceFromRow(const Row& r) {
  ServiceRecord s;
  s.id = r.Int(0);
  s.workspace_id = r.Int(1);
  s.name = r.Text(2);
  s.kind = r.Text(3);
  s.compute_name = r.Text(4);
  s.cluster_id = r.Int(5);
  s.state = r.Text(6);
  s.phase = r.Text(7);
  s.reason = r.Text(8);
  s.error = r.Text(9);
  s.primary_key = r.Text(10);
  s.secondary_key = r.Text(11);
  s.description = r.Text(12);
  s.tags = MapFromText(r.Text(13));
  s.properties = MapFromText(r.Text(14));
  s.created = r.Text(15);
  s.updated = r.Text(16);
  s.endpoint_config = r.Text(17);
  return s;
}

constexpr char kVersionColumns[] =
    "id, service_id, name, spec, revision, live_spec, live_revision, uid, phase, phase_started, schedule_seq, "
    "reserved_cpu, reserved_memory_gb, traffic_percentile, is_default, version_type, state, reason, error, created";

// A version's columns starting at column `o` of the row.
ServiceVersionRecord VersionFromRowAt(const Row& r, int o) {
  return ServiceVersionRecord{r.Int(o),       r.Int(o + 1),       r.Text(o + 2),  r.Text(o + 3),  r.Int(o + 4),
                              r.Text(o + 5),  r.Int(o + 6),       r.Text(o + 7),  r.Text(o + 8),  r.Text(o + 9),
                              r.Int(o + 10),  r.Real(o + 11),     r.Real(o + 12), r.Int(o + 13),  r.Int(o + 14) != 0,
                              r.Text(o + 15), r.Text(o + 16),     r.Text(o + 17), r.Text(o + 18), r.Text(o + 19)};
}

ServiceVersionRecord VersionFromRow(const Row& r) { return VersionFromRowAt(r, 0); }

std::string VersionColumns(absl::string_view alias) {
  std::string out;
  for (absl::string_view c : absl::StrSplit(kVersionColumns, ", ")) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", alias, ".", c);
  }
  return out;
}

std::string ServiceColumns(absl::string_view alias) {
  std::string out;
  for (absl::string_view c : absl::StrSplit(kServiceColumns, ", ")) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", alias, ".", c);
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> Store::NextModelVersion(Tx& tx, int64_t workspace_id, const std::string& name) {
  int64_t version = 1;
  auto s = tx.Query("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE workspace_id = ? AND name = ?",
                    {workspace_id, name}, [&](const Row& r) { version = r.Int(0); });
  if (!s.ok()) return s;
  return version;
}

absl::StatusOr<int64_t> Store::InsertModel(Tx& tx, const ModelRecord& r) {
  const auto& m = r.model;
  auto changed = tx.Execute(
      "INSERT INTO models (workspace_id, name, version, description, tags, properties, framework, "
      "framework_version, files, created, datasets, sample_input_data, sample_output_data, resource_requirements) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {r.workspace_id, m.name, m.version, m.description, MapToText(m.tags), MapToText(m.properties), m.framework,
       m.framework_version, FilesToText(m.files), m.created_time, json::EncodeText(m.datasets), m.sample_input_data,
       m.sample_output_data, m.resource_requirements ? json::EncodeText(*m.resource_requirements) : std::string()});
  if (!changed.ok()) return changed.status();
  return tx.LastInsertId();
}

absl::StatusOr<std::optional<ModelRecord>> Store::FindModel(Tx& tx, int64_t workspace_id, const std::string& name,
                                                            int64_t version) {
  if (version > 0) {
    return QueryOne<ModelRecord>(
        tx, absl::StrCat("SELECT ", kModelColumns, " FROM models WHERE workspace_id = ? AND name = ? AND version = ?"),
        {workspace_id, name, version}, ModelFromRow);
  }
  return QueryOne<ModelRecord>(tx,
                          absl::StrCat("SELECT ", kModelColumns,
                                       " FROM models WHERE workspace_id = ? AND name = ? ORDER BY version DESC LIMIT 1"),
                          {workspace_id, name}, ModelFromRow);
}

absl::StatusOr<std::vector<ModelRecord>> Store::ListModels(Tx& tx, int64_t workspace_id, const std::string& name) {
  return QueryAll<ModelRecord>(
      tx,
      absl::StrCat("SELECT ", kModelColumns,
                   " FROM models WHERE workspace_id = ? AND (? = '' OR name = ?) ORDER BY name, version DESC"),
      {workspace_id, name, name}, ModelFromRow);
}

absl::Status Store::DeleteModel(Tx& tx, int64_t id) {
  return tx.Execute("DELETE FROM models WHERE id = ?", {id}).status();
}

absl::StatusOr<int64_t> Store::InsertEnvironment(Tx& tx, const EnvironmentRecord& e) {
  auto changed = tx.Execute(
      "INSERT INTO environments (workspace_id, name, version, definition, created) VALUES (?, ?, ?, ?, ?)",
      {e.workspace_id, e.name, e.version, e.definition, e.created});
  if (!changed.ok()) return changed.status();
  return tx.LastInsertId();
}

absl::StatusOr<std::optional<EnvironmentRecord>> Store::FindEnvironment(Tx& tx, int64_t workspace_id,
                                                                        const std::string& name, int64_t version) {
  if (version > 0) {
    return QueryOne<EnvironmentRecord>(
        tx,
        absl::StrCat("SELECT ", kEnvironmentColumns,
                     " FROM environments WHERE workspace_id = ? AND name = ? AND version = ?"),
        {workspace_id, name, version}, EnvironmentFromRow);
  }
  return QueryOne<EnvironmentRecord>(
      tx,
      absl::StrCat("SELECT ", kEnvironmentColumns,
                   " FROM environments WHERE workspace_id = ? AND name = ? ORDER BY version DESC LIMIT 1"),
      {workspace_id, name}, EnvironmentFromRow);
}

absl::StatusOr<std::vector<EnvironmentRecord>> Store::ListEnvironments(Tx& tx, int64_t workspace_id) {
  return QueryAll<EnvironmentRecord>(
      tx, absl::StrCat("SELECT ", kEnvironmentColumns, " FROM environments WHERE workspace_id = ? ORDER BY name, version"),
      {workspace_id}, EnvironmentFromRow);
}

absl::StatusOr<bool> Store::EnvironmentBuildKnown(Tx& tx, const std::string& hash, int64_t workspace_id) {
  bool found = false;
  auto s = tx.Query("SELECT 1 FROM environment_builds WHERE hash = ? AND workspace_id = ?", {hash, workspace_id},
                    [&](const Row&) { found = true; });
  if (!s.ok()) return s;
  return found;
}

absl::Status Store::RecordEnvironmentBuild(Tx& tx, const std::string& hash, int64_t workspace_id) {
  return tx
      .Execute("INSERT OR IGNORE INTO environment_builds (hash, workspace_id, created) VALUES (?, ?, ?)",
               {hash, workspace_id, NowTimestamp()})
      .status();
}

absl::StatusOr<std::optional<ServiceRecord>> Store::FindService(Tx& tx, int64_t workspace_id, const std::string& name) {
  return QueryOne<ServiceRecord>(
      tx, absl::StrCat("SELECT ", kServiceColumns, " FROM services WHERE workspace_id = ? AND name = ?"),
      {workspace_id, name}, ServiceFromRow);
}

absl::StatusOr<std::optional<ServiceRecord>> Store::GetService(Tx& tx, int64_t id) {
  return QueryOne<ServiceRecord>(tx, absl::StrCat("SELECT ", kServiceColumns, " FROM services WHERE id = ?"), {id},
                            ServiceFromRow);
}

absl::StatusOr<std::vector<ServiceRecord>> Store::ListServices(Tx& tx, int64_t workspace_id) {
  return QueryAll<ServiceRecord>(
      tx, absl::StrCat("SELECT ", kServiceColumns, " FROM services WHERE workspace_id = ? ORDER BY name"),
      {workspace_id}, ServiceFromRow);
}

absl::StatusOr<std::vector<ServiceRecord>> Store::ServicesOnCluster(Tx& tx, int64_t cluster_id) {
  return QueryAll<ServiceRecord>(
      tx, absl::StrCat("SELECT ", kServiceColumns, " FROM services WHERE cluster_id = ? ORDER BY name"), {cluster_id},
      ServiceFromRow);
}

absl::StatusOr<int64_t> Store::InsertService(Tx& tx, const ServiceRecord& s) {
  auto changed = tx.Execute(
      "INSERT INTO services (workspace_id, name, kind, compute_name, cluster_id, state, phase, reason, error, "
      "primary_key, secondary_key, description, tags, properties, created, updated, endpoint_config) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {s.workspace_id, s.name, s.kind, s.compute_name, s.cluster_id, s.state, s.phase, s.reason, s.error,
       s.primary_key, s.secondary_key, s.description, MapToText(s.tags), MapToText(s.properties), s.created,
       s.updated, s.endpoint_config});
  if (!changed.ok()) return changed.status();
  return tx.LastInsertId();
}

absl::Status Store::UpdateService(Tx& tx, const ServiceRecord& s) {
  return tx
      .Execute(
          "UPDATE services SET kind = ?, compute_name = ?, cluster_id = ?, state = ?, phase = ?, reason = ?, "
          "error = ?, primary_key = ?, secondary_key = ?, description = ?, tags = ?, properties = ?, updated = ?, "
          "endpoint_config = ? WHERE id = ?",
          {s.kind, s.compute_name, s.cluster_id, s.state, s.phase, s.reason, s.error, s.primary_key,
           s.secondary_key, s.description, MapToText(s.tags), MapToText(s.properties), NowTimestamp(),
           s.endpoint_config, s.id})
      .status();
}

absl::Status Store::DeleteService(Tx& tx, int64_t id) {
  if (auto s = tx.Execute("DELETE FROM service_versions WHERE service_id = ?", {id}); !s.ok()) return s.status();
  return tx.Execute("DELETE FROM services WHERE id = ?", {id}).status();
}

absl::StatusOr<std::vector<ServiceVersionRecord>> Store::ServiceVersions(Tx& tx, int64_t service_id) {
  return QueryAll<ServiceVersionRecord>(
      tx, absl::StrCat("SELECT ", kVersionColumns, " FROM service_versions WHERE service_id = ? ORDER BY id"),
      {service_id}, VersionFromRow);
}

absl::StatusOr<int64_t> Store::InsertServiceVersion(Tx& tx, const ServiceVersionRecord& v) {
  auto changed = tx.Execute(
      "INSERT INTO service_versions (service_id, name, spec, revision, live_spec, live_revision, uid, phase, "
      "phase_started, schedule_seq, reserved_cpu, reserved_memory_gb, traffic_percentile, is_default, version_type, "
      "state, reason, error, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {v.service_id, v.name, v.spec, v.revision, v.live_spec, v.live_revision, v.uid, v.phase, v.phase_started,
       v.schedule_seq, v.reserved_cpu, v.reserved_memory_gb, v.traffic_percentile, int64_t{v.is_default},
       v.version_type, v.state, v.reason, v.error, v.created.empty() ? NowTimestamp() : v.created});
  if (!changed.ok()) return changed.status();
  return tx.LastInsertId();
}

absl::Status Store::UpdateServiceVersion(Tx& tx, const ServiceVersionRecord& v) {
  return tx
      .Execute("UPDATE service_versions SET name = ?, spec = ?, revision = ?, live_spec = ?, live_revision = ?, "
               "uid = ?, phase = ?, phase_started = ?, schedule_seq = ?, reserved_cpu = ?, reserved_memory_gb = ?, "
               "traffic_percentile = ?, is_default = ?, version_type = ?, state = ?, reason = ?, error = ? "
               "WHERE id = ?",
               {v.name, v.spec, v.revision, v.live_spec, v.live_revision, v.uid, v.phase, v.phase_started,
                v.schedule_seq, v.reserved_cpu, v.reserved_memory_gb, v.traffic_percentile, int64_t{v.is_default},
                v.version_type, v.state, v.reason, v.error, v.id})
      .status();
}

absl::StatusOr<std::vector<std::pair<ServiceRecord, ServiceVersionRecord>>> Store::VersionsOnCluster(
    Tx& tx, int64_t cluster_id) {
  std::vector<std::pair<ServiceRecord, ServiceVersionRecord>> out;
  auto s = tx.Query(absl::StrCat("SELECT ", ServiceColumns("s"), ", ", VersionColumns("v"),
                                 " FROM services s JOIN service_versions v ON v.service_id = s.id"
                                 " WHERE s.cluster_id = ? ORDER BY s.name, v.id"),
                    {cluster_id}, [&](const Row& r) { out.emplace_back(ServiceFromRow(r), VersionFromRowAt(r, 18)); });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::set<std::string>> Store::ReferencedBlobs(Tx& tx) {
  std::set<std::string> out;
  auto models = tx.Query("SELECT files FROM models", {}, [&](const Row& r) {
    for (const auto& f : FilesFromText(r.Text(0))) out.insert(f.sha256);
  });
  if (!models.ok()) return models;
  auto datastore_files = tx.Query("SELECT DISTINCT sha256 FROM datastore_files", {},
                                  [&](const Row& r) { out.insert(r.Text(0)); });
  if (!datastore_files.ok()) return datastore_files;
  // Snapshots sit in the JSON of deployment specs, under request.snapshot; running updates keep the spec they
  // would go back to in their payload.
  auto snapshot_of = [&](const std::string& text) {
    auto parsed = json::ParseObject(text, "spec");
    if (!parsed.ok()) return;
    if (const bj::object* request = json::GetObject(*parsed, "request")) {
      std::string sha = json::GetString(*request, "snapshot");
      if (!sha.empty()) out.insert(sha);
    }
  };
  auto versions = tx.Query("SELECT spec, live_spec FROM service_versions", {}, [&](const Row& r) {
    snapshot_of(r.Text(0));
    snapshot_of(r.Text(1));
  });
  if (!versions.ok()) return versions;
  auto operations = tx.Query("SELECT payload FROM operations WHERE status = ?",
                             {std::string(OperationStatus::kInProgress)}, [&](const Row& r) {
                               auto payload = json::ParseObject(r.Text(0), "payload");
                               if (payload.ok()) snapshot_of(json::GetString(*payload, "previousLiveSpec"));
                             });
  if (!operations.ok()) return operations;
  return out;
}

absl::StatusOr<int64_t> Store::NextScheduleSeq(Tx& tx) {
  int64_t next = 1;
  auto s = tx.Query("SELECT COALESCE(MAX(schedule_seq), 0) + 1 FROM service_versions", {},
                    [&](const Row& r) { next = r.Int(0); });
  if (!s.ok()) return s;
  return next;
}

}  // namespace amlcore::server
