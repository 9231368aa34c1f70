// The shared rules and codecs of datastores, datasets and the dataset fields of models.
#include "domain/data_wire.h"

#include "common/json.h"
#include "domain/service_rules.h"
#include "domain/service_wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::domain {
namespace {
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<DatastoreFile> Files(const std::vector<std::string>& paths) {
  std::vector<DatastoreFile> out;
  for (const auto& p : paths) out.push_back(DatastoreFile{p, std::string(64, 'a'), 1, ""});
  return out;
}

std::vector<std::string> Matched(absl::string_view pattern, const std::vector<DatastoreFile>& files,
                                 std::string* base) {
  std::vector<std::string> out;
  for (const auto& f : MatchDatasetPath(pattern, files, base)) out.push_back(f.path);
  return out;
}

TEST(DatastorePathTest, TargetPathsAreCleanedAsAzuremlDoes) {
  EXPECT_EQ(*NormalizeDatastorePath(""), "");
  EXPECT_EQ(*NormalizeDatastorePath("/"), "");
  EXPECT_EQ(*NormalizeDatastorePath("data/"), "data");
  EXPECT_EQ(*NormalizeDatastorePath("./data//x/./y.csv"), "data/x/y.csv");
  EXPECT_EQ(*NormalizeDatastorePath("../../data"),
            "data");  // a leading "../" is dropped, not followed
  EXPECT_EQ(*NormalizeDatastorePath("\\win\\path"), "win/path");
  EXPECT_EQ(*NormalizeDatastorePath("weights..bin"), "weights..bin");
  auto escape = NormalizeDatastorePath("data/../../etc/passwd");
  ASSERT_FALSE(escape.ok());
  EXPECT_THAT(escape.status().message(), HasSubstr("leaves the datastore"));
}

TEST(DatastorePathTest, StoredPathsMustStayInside) {
  EXPECT_TRUE(CheckDatastoreFilePath("a/b.csv").ok());
  for (const char* bad : {"", "/abs", "a/../b", "..", "a//b", "a/./b", "a\\b"}) {
    EXPECT_FALSE(CheckDatastoreFilePath(bad).ok()) << bad;
  }
}

TEST(DatastoreTest, TheWorkspaceHasItsDefaultBlobStore) {
  auto found = FindWorkspaceDatastore("WorkspaceBlobStore");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "workspaceblobstore");
  EXPECT_TRUE(found->is_default);
  EXPECT_EQ(found->datastore_type, "AzureBlob");
  EXPECT_FALSE(FindWorkspaceDatastore("workspacefilestore").has_value());
  absl::Status missing = DatastoreNotFound("other");
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_THAT(missing.message(),
              HasSubstr("Datastore with name other not found in provided workspace"));
}

TEST(DatasetPathTest, FilesFoldersAndGlobs) {
  auto files = Files({"data/a.csv", "data/b.txt", "data/sub/c.csv", "data/sub/deep/d.csv",
                      "data2/e.csv", "f.csv"});
  std::string base;
  EXPECT_THAT(Matched("data/a.csv", files, &base), ElementsAre("data/a.csv"));
  EXPECT_EQ(base, "data");
  EXPECT_THAT(Matched("data", files, &base),
              ElementsAre("data/a.csv", "data/b.txt", "data/sub/c.csv", "data/sub/deep/d.csv"));
  EXPECT_EQ(base, "data");
  EXPECT_THAT(Matched("data/", files, &base),
              ElementsAre("data/a.csv", "data/b.txt", "data/sub/c.csv", "data/sub/deep/d.csv"));
  EXPECT_THAT(Matched("data/*.csv", files, &base), ElementsAre("data/a.csv"));
  EXPECT_EQ(base, "data");
  EXPECT_THAT(Matched("data/**/*.csv", files, &base),
              ElementsAre("data/a.csv", "data/sub/c.csv", "data/sub/deep/d.csv"));
  EXPECT_THAT(Matched("data*/?.csv", files, &base), ElementsAre("data/a.csv", "data2/e.csv"));
  EXPECT_EQ(base, "");
  EXPECT_THAT(Matched("data/[ab].*", files, &base), ElementsAre("data/a.csv", "data/b.txt"));
  EXPECT_EQ(Matched("", files, &base).size(), 6u);
  EXPECT_THAT(Matched("f.csv", files, &base), ElementsAre("f.csv"));
  EXPECT_EQ(base, "");
  EXPECT_TRUE(Matched("dat", files, &base).empty());  // a prefix is not a folder
  EXPECT_EQ(DatasetPathListingPrefix("data/sub/*.csv"), "data/sub/");
  EXPECT_EQ(DatasetPathListingPrefix("da*/x"), "");
  EXPECT_EQ(DatasetPathListingPrefix("data/a.csv"), "data/a.csv");
}

TEST(DatasetDefinitionTest, ChecksWithAzuremlsMessages) {
  DatasetDefinition file{Dataset::kFile, {{"workspaceblobstore", "/data/x/"}}, std::nullopt};
  auto checked = CheckDatasetDefinition(file);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->paths[0].path, "data/x/");

  DatasetDefinition none{Dataset::kFile, {}, std::nullopt};
  EXPECT_THAT(CheckDatasetDefinition(none).status().message(),
              HasSubstr("Invalid argument type for `path`"));

  DatasetDefinition tabular{
      Dataset::kTabular, {{"workspaceblobstore", "a.csv"}}, DelimitedFilesOptions{}};
  tabular.delimited->encoding = "UTF8";
  auto lowered = CheckDatasetDefinition(tabular);
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(lowered->delimited->encoding, "utf8");
  tabular.delimited->encoding = "ebcdic";
  EXPECT_EQ(CheckDatasetDefinition(tabular).status().message(),
            "Invalid encoding 'ebcdic'. The supported encodings are 'utf8', 'iso88591', 'latin1', "
            "'ascii', 'utf16', "
            "'utf32', 'utf8bom' and 'windows1252'.");
  tabular.delimited->encoding = "utf8";
  tabular.delimited->header = "SOME_HEADERS";
  EXPECT_THAT(CheckDatasetDefinition(tabular).status().message(),
              HasSubstr("Unsupported header provided. The allowed values are "
                        "ALL_FILES_HAVE_SAME_HEADERS, NO_HEADERS"));
  tabular.delimited->header = "NO_HEADERS";
  tabular.delimited->separator = "";
  EXPECT_THAT(CheckDatasetDefinition(tabular).status().message(), HasSubstr("separator"));
  DatasetDefinition traversal{Dataset::kFile, {{"workspaceblobstore", "a/../../b"}}, std::nullopt};
  EXPECT_THAT(CheckDatasetDefinition(traversal).status().message(),
              HasSubstr("leaves the datastore"));
  DatasetDefinition odd{"Table", {{"workspaceblobstore", "a"}}, std::nullopt};
  EXPECT_THAT(CheckDatasetDefinition(odd).status().message(),
              HasSubstr("Unknown dataset type 'Table'"));
}

TEST(DatasetDefinitionTest, TheSameDefinitionHasTheSameIdInAWorkspace) {
  DatasetDefinition d{Dataset::kFile, {{"workspaceblobstore", "a"}}, std::nullopt};
  std::string id = SavedDatasetId(1, d);
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id, SavedDatasetId(1, d));
  EXPECT_NE(id, SavedDatasetId(2, d));
  d.paths[0].path = "b";
  EXPECT_NE(id, SavedDatasetId(1, d));
}

TEST(DatasetDocumentTest, RoundTripsAndRejectsUnknownFields) {
  DatasetDocument d{.id = "abc",
                    .definition = {Dataset::kTabular,
                                   {{"workspaceblobstore", "a.csv"}},
                                   DelimitedFilesOptions{.separator = ";"}},
                    .created_time = "t",
                    .name = "n",
                    .version = 3,
                    .description = "d",
                    .tags = std::map<std::string, std::string>{{"k", "v"}}};
  auto back =
      json::DecodeText<DatasetDocument>(json::EncodeText(d), "dataset", {.reject_unknown = true});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->definition.delimited->separator, ";");
  EXPECT_EQ(back->version, 3);
  EXPECT_EQ((*back->tags)["k"], "v");
  auto unknown = json::DecodeText<DatasetRegisterRequest>(
      R"({"name": "x", "colour": 1})", "Dataset registration", {.reject_unknown = true});
  EXPECT_THAT(unknown.status().message(), HasSubstr("Unknown field 'colour'"));
}

TEST(ModelDocumentTest, DatasetsSamplesAndResourcesRoundTrip) {
  ModelDocument m;
  m.name = "m";
  m.version = 2;
  m.files = {ModelFile{"m.pkl", std::string(64, 'b'), 3}};
  m.datasets = {{"training", "id-1"}, {"validation", "id-2"}};
  m.sample_input_data = DatasetUrl("id-3");
  m.resource_requirements = ResourceConfiguration{.cpu = 1.5, .memory_in_gb = 0.5, .gpu = 1};
  auto back = ModelFromJson(ModelToJson(m));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->datasets.size(), 2u);
  EXPECT_EQ(back->datasets[1].name, "validation");
  EXPECT_EQ(*DatasetIdOfUrl(back->sample_input_data), "id-3");
  EXPECT_TRUE(back->sample_output_data.empty());
  EXPECT_EQ(back->resource_requirements->cpu, 1.5);
  EXPECT_EQ(back->resource_requirements->gpu, 1);
  EXPECT_FALSE(DatasetIdOfUrl("https://x").ok());

  // An older document (no dataset fields) still reads.
  auto old = ModelFromJson(*json::ParseObject(
      R"({"name": "m", "version": 1, "files": [{"path": "m.pkl", "sha256": "x", "size": 1}]})",
      "model"));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_TRUE(old->datasets.empty());
  EXPECT_FALSE(old->resource_requirements.has_value());
  auto wrong = ModelFromJson(*json::ParseObject(
      R"({"name": "m", "files": [{"path": "m", "sha256": "x"}], "resourceRequirements": {"cpus": 1}})",
      "model"));
  EXPECT_THAT(wrong.status().message(), HasSubstr("Unknown field 'resourceRequirements.cpus'"));
}

TEST(ResourceConfigurationTest, EveryBrokenRuleIsALine) {
  EXPECT_TRUE(ValidateResourceConfiguration({}).ok());
  EXPECT_TRUE(ValidateResourceConfiguration({.cpu = 0.5, .memory_in_gb = 2, .gpu = 1}).ok());
  absl::Status all = ValidateResourceConfiguration({.cpu = 0, .memory_in_gb = -1, .gpu = 1.5});
  EXPECT_EQ(all.message(),
            "Invalid configuration, cpu must be greater than zero.\n"
            "Invalid configuration, memory_in_gb must be greater than zero.\n"
            "Invalid configuration, gpu must be integer and greater than zero.");
  EXPECT_FALSE(ValidateResourceConfiguration({.cpu = std::nan("")}).ok());
  EXPECT_EQ(ValidateModelFramework("", "1.0").message(),
            "Model framework version cannot be provided without a valid framework");
  EXPECT_TRUE(ValidateModelFramework("ScikitLearn", "1.0").ok());
}

}  // namespace
}  // namespace amlcore::domain
