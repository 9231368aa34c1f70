// Datastores and datasets against a real amlcored: the SDK's round trips, and the server's refusals
// of requests the SDK would never send.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/files.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kStores[] =
    "/datastore/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/"
    "providers/"
    "Microsoft.MachineLearningServices/workspaces/ws-data";

class DataTest : public testing::ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    ws_ = std::make_unique<Workspace>(MakeWorkspace("ws-data"));
    local_ = fs::path(home_->path()) / "local";
    Write("data/a.csv", "x,y\n1,2\n");
    Write("data/sub/b.csv", "x,y\n3,4\n");
    fs::create_directories(local_ / "data" / "empty");
  }
  void Write(const std::string& relative, const std::string& content) {
    fs::create_directories((local_ / relative).parent_path());
    std::ofstream(local_ / relative) << content;
  }
  // PUTs content to the blob store the way the SDK does; returns its hash.
  std::string PutBlob(const std::string& content) {
    std::string sha = Sha256Hex(content);
    EXPECT_EQ(Rest("PUT", absl::StrCat("/blobs/", sha), content).status, 200);
    return sha;
  }

  std::unique_ptr<Workspace> ws_;
  fs::path local_;
};

TEST_F(DataTest, UploadListDownloadAndSkipExisting) {
  auto store = Datastore::GetDefault(*ws_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->name(), "workspaceblobstore");
  std::vector<std::string> lines;
  DatastoreUploadOptions options{
      .target_path = "/csv/", .on_progress = [&](absl::string_view l) { lines.emplace_back(l); }};
  auto uploaded = store->Upload((local_ / "data").string(), options);
  ASSERT_TRUE(uploaded.ok()) << uploaded.status();
  EXPECT_EQ(*uploaded, 2);  // the empty folder uploads nothing
  EXPECT_EQ(lines.front(), "Uploading an estimated of 2 files");
  EXPECT_EQ(lines.back(), "Uploaded 2 files");
  auto files = store->ListFiles("csv/");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, "csv/a.csv");
  EXPECT_EQ((*files)[1].path, "csv/sub/b.csv");

  // Again without overwrite: nothing changes, and it says so.
  Write("data/a.csv", "changed\n");
  lines.clear();
  auto again = store->Upload((local_ / "data").string(), options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_THAT(lines, ::testing::Contains("Target already exists. Skipping upload for csv/a.csv"));
  options.overwrite = true;
  ASSERT_TRUE(store->UploadFiles({(local_ / "data/a.csv").string()}, options).ok());
  auto one = store->ListFiles("csv/a.csv");
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().sha256, Sha256Hex("changed\n"));

  fs::path out = local_ / "out";
  auto count = store->Download(out.string(), {.prefix = "csv/sub"});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(*ReadFile((out / "csv/sub/b.csv").string()), "x,y\n3,4\n");
  EXPECT_EQ(*store->Download(out.string(), {.prefix = "csv/sub"}), 0);  // kept, not overwritten

  auto not_a_folder = store->Upload((local_ / "data/a.csv").string());
  EXPECT_EQ(not_a_folder.status().message(), "src_path must be a directory.");
  auto outside = store->UploadFiles({(local_ / "data/a.csv").string()},
                                    {.relative_root = (local_ / "data/sub").string()});
  EXPECT_THAT(outside.status().message(), HasSubstr("is not part of the file_path"));
  auto traversal = store->Upload((local_ / "data").string(), {.target_path = "csv/../../up"});
  EXPECT_THAT(traversal.status().message(), HasSubstr("leaves the datastore"));
  auto missing = Datastore::Get(*ws_, "workspacefilestore");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_EQ(GetErrorInfo(missing.status()).kind, ErrorKind::kUserError);
}

TEST_F(DataTest, TheServerRefusesBadCommits) {
  std::string files = absl::StrCat(kStores, "/datastores/workspaceblobstore/files");
  std::string sha = PutBlob("content");
  auto commit = [&](const std::string& path, const std::string& hash) {
    return Rest("POST", files,
                absl::StrCat(R"({"files": [{"path": ")", path, R"(", "sha256": ")", hash,
                             R"(", "size": 7}]})"));
  };
  for (const char* bad : {"../etc/passwd", "/abs", "a/../../b", "a//b"}) {
    http::Response r = commit(bad, sha);
    EXPECT_EQ(r.status, 400) << bad;
  }
  http::Response unknown_blob = commit("a.txt", std::string(64, 'c'));
  EXPECT_EQ(unknown_blob.status, 400);
  EXPECT_THAT(unknown_blob.body, HasSubstr("was not uploaded"));
  EXPECT_EQ(commit("dir/file.txt", sha).status, 200);
  http::Response folder_as_file = commit("dir", sha);
  EXPECT_EQ(folder_as_file.status, 400);
  EXPECT_THAT(folder_as_file.body, HasSubstr("it is a folder of the datastore"));
  http::Response under_file = commit("dir/file.txt/x", sha);
  EXPECT_THAT(under_file.body, HasSubstr("has a file 'dir/file.txt' where its folder would be"));
  http::Response unknown_field = Rest("POST", files, R"({"files": [], "force": true})");
  EXPECT_THAT(unknown_field.body, HasSubstr("Unknown field 'force'"));
  http::Response no_store = Rest("GET", absl::StrCat(kStores, "/datastores/elsewhere/files"));
  EXPECT_EQ(no_store.status, 404);
  EXPECT_THAT(no_store.body, HasSubstr("DatastoreNotFound"));
  // Nothing of the refused commits was kept.
  http::Response listed = Rest("GET", absl::StrCat(files, "?prefix="));
  EXPECT_THAT(listed.body, HasSubstr("dir/file.txt"));
  EXPECT_THAT(listed.body, ::testing::Not(HasSubstr("a.txt")));
}

TEST_F(DataTest, DatasetsRegisterInVersions) {
  auto store = Datastore::GetDefault(*ws_);
  ASSERT_TRUE(store->Upload((local_ / "data").string(), {.target_path = "csv"}).ok());
  auto missing = Dataset::FromFiles(*ws_, {{"workspaceblobstore", "nothing/here"}});
  EXPECT_THAT(missing.status().message(), HasSubstr("Failed to validate the data"));
  EXPECT_TRUE(
      Dataset::FromFiles(*ws_, {{"workspaceblobstore", "nothing/here"}}, /*validate=*/false).ok());

  auto files = Dataset::FromFiles(*ws_, {{"workspaceblobstore", "csv/**/*.csv"}});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files->ToPath(), ElementsAre("/a.csv", "/sub/b.csv"));
  EXPECT_TRUE(files->id().empty());
  auto saved = files->Save();
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->id(), files->Save()->id());  // the same definition, the same id

  auto v1 = files->Register("csv-files", {.description = "first", .tags = {{"k", "v"}}});
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version(), 1);
  EXPECT_EQ(v1->id(), saved->id());
  EXPECT_EQ(files->Register("csv-files")->version(), 1);  // the same definition again
  auto other = Dataset::FromFiles(*ws_, {{"workspaceblobstore", "csv/a.csv"}});
  auto taken = other->Register("csv-files");
  EXPECT_EQ(taken.status().message(),
            "There is already a dataset registered under name \"csv-files\". Specify "
            "`create_new_version=True` to "
            "register the dataset as a new version.");
  EXPECT_EQ(absl::StatusCode::kAlreadyExists, taken.status().code());
  auto v2 = other->Register("csv-files", {.create_new_version = true});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version(), 2);
  auto tabular = Dataset::FromDelimitedFiles(*ws_, {{"workspaceblobstore", "csv/a.csv"}});
  auto kind = tabular->Register("csv-files", {.create_new_version = true});
  EXPECT_EQ(kind.status().message(),
            "There is already a \"File\" dataset registered under name \"csv-files\". Cannot "
            "register dataset of "
            "type \"Tabular\" under the same name.");

  EXPECT_EQ(Dataset::GetByName(*ws_, "csv-files")->version(), 2);
  auto first = Dataset::GetByName(*ws_, "csv-files", 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->description(), "first");
  EXPECT_EQ(first->tags().at("k"), "v");
  EXPECT_THAT(Dataset::GetByName(*ws_, "csv-files", 7).status().message(),
              HasSubstr("has no version 7"));
  EXPECT_EQ(Dataset::GetByName(*ws_, "nope").status().message(),
            "Dataset with name \"nope\" is not registered in the workspace");
  auto by_id = Dataset::GetById(*ws_, v1->id());
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->name(), "csv-files");
  auto listed = Dataset::List(*ws_);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().version(), 2);

  fs::path out = local_ / "downloaded";
  auto written = files->Download(out.string());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->size(), 2u);
  auto again = files->Download(out.string());
  EXPECT_THAT(again.status().message(),
              HasSubstr("already exists. Set overwrite=True to overwrite it"));
  EXPECT_TRUE(files->Download(out.string(), /*overwrite=*/true).ok());
}

TEST_F(DataTest, ModelsKeepTheirDatasetsAndResources) {
  auto store = Datastore::GetDefault(*ws_);
  ASSERT_TRUE(store->Upload((local_ / "data").string(), {.target_path = "csv"}).ok());
  auto dataset = Dataset::FromDelimitedFiles(*ws_, {{"workspaceblobstore", "csv/a.csv"}})->Save();
  ASSERT_TRUE(dataset.ok());
  Write("model.pkl", "weights");
  ModelRegisterOptions options;
  options.model_framework = ModelFramework::kScikitLearn;
  options.model_framework_version = "1.2";
  options.datasets = {{"training", dataset->id()}};
  options.sample_input_dataset_id = dataset->id();
  options.resource_configuration = ResourceConfiguration{.cpu = 1, .memory_in_gb = 0.5};
  auto model = Model::Register(*ws_, (local_ / "model.pkl").string(), "with-data", options);
  ASSERT_TRUE(model.ok()) << model.status();
  auto read = Model::Get(*ws_, "with-data");
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->datasets().size(), 1u);
  EXPECT_EQ(read->datasets()[0].id, dataset->id());
  EXPECT_EQ(read->sample_input_dataset_id(), dataset->id());
  EXPECT_TRUE(read->sample_output_dataset_id().empty());
  EXPECT_EQ(read->resource_configuration()->memory_in_gb, 0.5);
  EXPECT_EQ(read->model_framework_version(), "1.2");

  options.datasets = {{"training", "not-a-saved-dataset"}};
  auto unknown = Model::Register(*ws_, (local_ / "model.pkl").string(), "with-data", options);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("Dataset with id not-a-saved-dataset is not saved"));
  options.datasets.clear();
  options.resource_configuration->gpu = -1;
  EXPECT_EQ(Model::Register(*ws_, (local_ / "model.pkl").string(), "with-data", options)
                .status()
                .message(),
            "Invalid configuration, gpu must be integer and greater than zero.");
  EXPECT_EQ(Model::Get(*ws_, "with-data")->version(), 1);  // nothing registered by the refusals
}

}  // namespace
}  // namespace amlcore
