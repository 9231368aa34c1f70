#include "domain/data_wire.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"

namespace amlcore::domain {
namespace {

constexpr absl::string_view kHeaders[] = {"ALL_FILES_HAVE_SAME_HEADERS", "NO_HEADERS",
                                          "ONLY_FIRST_FILE_HAS_HEADERS",
                                          "COMBINE_ALL_FILES_HEADERS"};
constexpr absl::string_view kEncodingNames[] = {"utf8",  "iso88591", "latin1",  "ascii",
                                                "utf16", "utf32",    "utf8bom", "windows1252"};

bool IsWildcard(char c) { return c == '*' || c == '?' || c == '['; }

// fnmatch-like matching of one path segment: "*" any run, "?" one character, "[...]" a class
// ("[!...]" negated).
bool MatchSegment(absl::string_view pattern, absl::string_view text) {
  size_t p = 0, t = 0, star_p = absl::string_view::npos, star_t = 0;
  auto class_matches = [&](size_t at, char c, size_t* end) {
    size_t i = at + 1;
    bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
    if (negate) ++i;
    bool found = false;
    size_t first = i;
    while (i < pattern.size() && (pattern[i] != ']' || i == first)) {
      if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
        found |= pattern[i] <= c && c <= pattern[i + 2];
        i += 3;
      } else {
        found |= pattern[i] == c;
        ++i;
      }
    }
    if (i >= pattern.size()) return false;  // no closing bracket: not a class
    *end = i + 1;
    return found != negate;
  };
  while (t < text.size()) {
    size_t end = 0;
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_t = t;
    } else if (p < pattern.size() && pattern[p] == '?') {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '[' && class_matches(p, text[t], &end)) {
      p = end;
      ++t;
    } else if (p < pattern.size() && pattern[p] != '[' && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star_p != absl::string_view::npos) {
      p = star_p + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Segment-wise matching where a "**" segment stands for any number of segments (none included).
bool MatchSegments(const std::vector<absl::string_view>& pattern, size_t p,
                   const std::vector<absl::string_view>& path, size_t s) {
  while (p < pattern.size()) {
    if (pattern[p] == "**") {
      for (size_t skip = s; skip <= path.size(); ++skip) {
        if (MatchSegments(pattern, p + 1, path, skip)) return true;
      }
      return false;
    }
    if (s >= path.size() || !MatchSegment(pattern[p], path[s])) return false;
    ++p;
    ++s;
  }
  return s == path.size();
}

std::string StripSlashes(absl::string_view path) {
  while (absl::ConsumePrefix(&path, "/")) {
  }
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  return std::string(path);
}

}  // namespace

std::vector<DatastoreDocument> WorkspaceDatastores() {
  return {DatastoreDocument{.name = Datastore::kDefaultName,
                            .datastore_type = Datastore::kAzureBlob,
                            .container_name = "azureml-blobstore",
                            .account_name = "amlcore",
                            .is_default = true}};
}

std::optional<DatastoreDocument> FindWorkspaceDatastore(absl::string_view name) {
  for (DatastoreDocument& d : WorkspaceDatastores()) {
    if (absl::EqualsIgnoreCase(d.name, name)) return d;
  }
  return std::nullopt;
}

absl::Status DatastoreNotFound(absl::string_view name) {
  std::vector<std::string> names;
  for (const DatastoreDocument& d : WorkspaceDatastores()) names.push_back(d.name);
  return MakeError(
      absl::StatusCode::kNotFound, "DatastoreNotFound",
      absl::StrCat("DatastoreNotFound: Datastore with name ", name,
                   " not found in provided workspace. amlcore workspaces have the datastore(s) ",
                   absl::StrJoin(names, ", "), "."));
}

absl::StatusOr<std::string> NormalizeDatastorePath(absl::string_view path) {
  std::string unix_path = absl::StrReplaceAll(path, {{"\\", "/"}});
  absl::string_view rest = unix_path;
  // azureml drops any run of "./", "../" and "/" at the start of a target path.
  while (true) {
    size_t dots = 0;
    while (dots < rest.size() && rest[dots] == '.') ++dots;
    if (dots < rest.size() && rest[dots] == '/') {
      rest.remove_prefix(dots + 1);
      continue;
    }
    break;
  }
  std::vector<std::string> segments;
  for (absl::string_view segment : absl::StrSplit(rest, '/', absl::SkipEmpty())) {
    if (segment == ".") continue;
    if (segment == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("The datastore path '", path,
                       "' leaves the datastore: '..' may only appear at its start (where it is "
                       "dropped, as in azureml)."));
    }
    segments.emplace_back(segment);
  }
  return absl::StrJoin(segments, "/");
}

absl::Status CheckDatastoreFilePath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("A datastore file needs a path.");
  if (auto s = CheckContainedPath(path); !s.ok()) return s;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == ".") {
      return absl::InvalidArgumentError(
          absl::StrCat("The datastore path '", path,
                       "' has an empty or '.' segment; paths look like 'folder/file.csv'."));
    }
  }
  if (path.size() > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("The datastore path '", path.substr(0, 64),
                                                   "...' is longer than 1024 characters."));
  }
  return absl::OkStatus();
}

absl::StatusOr<DatasetDefinition> CheckDatasetDefinition(DatasetDefinition d) {
  if (d.dataset_type != Dataset::kFile && d.dataset_type != Dataset::kTabular) {
    return absl::InvalidArgumentError(absl::StrCat("Unknown dataset type '", d.dataset_type,
                                                   "'; datasets are '", Dataset::kFile, "' or '",
                                                   Dataset::kTabular, "'."));
  }
  if (d.paths.empty()) return absl::InvalidArgumentError(kInvalidDatasetPathMessage);
  for (DatasetPath& p : d.paths) {
    if (p.datastore.empty()) return absl::InvalidArgumentError(kInvalidDatasetPathMessage);
    auto normalized = NormalizeDatastorePath(p.path);
    if (!normalized.ok()) return normalized.status();
    // A trailing '/' says "a folder" and is kept, as azureml shows it.
    bool folder =
        !normalized->empty() && (absl::EndsWith(p.path, "/") || absl::EndsWith(p.path, "\\"));
    p.path = folder ? absl::StrCat(*normalized, "/") : *normalized;
  }
  if (d.dataset_type == Dataset::kFile) {
    if (d.delimited)
      return absl::InvalidArgumentError("A file dataset has no delimited-file settings.");
    return d;
  }
  if (!d.delimited) d.delimited = DelimitedFilesOptions{};
  DelimitedFilesOptions& o = *d.delimited;
  if (std::find(std::begin(kHeaders), std::end(kHeaders), o.header) == std::end(kHeaders)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unsupported header provided. The allowed values are ",
                     absl::StrJoin(std::begin(kHeaders), std::end(kHeaders), ", "), "."));
  }
  std::string encoding = absl::AsciiStrToLower(o.encoding);
  if (std::find(std::begin(kEncodingNames), std::end(kEncodingNames), encoding) ==
      std::end(kEncodingNames)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid encoding '", o.encoding, "'. The supported encodings are ", kEncodings, "."));
  }
  o.encoding = encoding;
  if (o.separator.empty())
    return absl::InvalidArgumentError("separator must be at least one character.");
  return d;
}

absl::Status ValidateDatasetName(absl::string_view name) {
  bool control = std::any_of(name.begin(), name.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  if (name.empty() || name.size() > 250 || control) {
    return absl::InvalidArgumentError(
        "A dataset name must be 1 to 250 characters long, without control characters.");
  }
  return absl::OkStatus();
}

std::string SavedDatasetId(int64_t workspace_id, const DatasetDefinition& definition) {
  std::string hash = Sha256Hex(absl::StrCat(workspace_id, "\n", json::EncodeText(definition)));
  return absl::StrCat(hash.substr(0, 8), "-", hash.substr(8, 4), "-", hash.substr(12, 4), "-",
                      hash.substr(16, 4), "-", hash.substr(20, 12));
}

std::string DatasetNameTakenMessage(absl::string_view name) {
  return absl::StrCat(
      "There is already a dataset registered under name \"", name,
      "\". Specify `create_new_version=True` to register the dataset as a new version.");
}

std::string DatasetTypeTakenMessage(absl::string_view existing_type, absl::string_view name,
                                    absl::string_view new_type) {
  return absl::StrCat("There is already a \"", existing_type, "\" dataset registered under name \"",
                      name, "\". Cannot register dataset of type \"", new_type,
                      "\" under the same name.");
}

std::string DatasetNotRegisteredMessage(absl::string_view name) {
  return absl::StrCat("Dataset with name \"", name, "\" is not registered in the workspace");
}

std::string DatasetPathListingPrefix(absl::string_view pattern) {
  size_t wildcard = std::find_if(pattern.begin(), pattern.end(), IsWildcard) - pattern.begin();
  if (wildcard == pattern.size()) return std::string(pattern);
  size_t slash = pattern.substr(0, wildcard).rfind('/');
  return slash == absl::string_view::npos ? "" : std::string(pattern.substr(0, slash + 1));
}

std::vector<DatastoreFile> MatchDatasetPath(absl::string_view pattern,
                                            const std::vector<DatastoreFile>& files,
                                            std::string* base) {
  std::vector<DatastoreFile> out;
  std::string clean = StripSlashes(pattern);
  bool glob = std::any_of(clean.begin(), clean.end(), IsWildcard);
  if (!glob) {
    bool folder_only = absl::EndsWith(pattern, "/");
    std::string folder = clean.empty() ? "" : absl::StrCat(clean, "/");
    bool single_file = false;
    for (const DatastoreFile& f : files) {
      if (!folder_only && !clean.empty() && f.path == clean) {
        out.push_back(f);
        single_file = true;
      } else if (absl::StartsWith(f.path, folder)) {
        out.push_back(f);
      }
    }
    // A path that names one file lists it relative to its folder; a folder, relative to itself.
    size_t slash = clean.rfind('/');
    *base = single_file && out.size() == 1
                ? (slash == std::string::npos ? "" : clean.substr(0, slash))
                : clean;
    return out;
  }
  std::vector<absl::string_view> segments = absl::StrSplit(clean, '/', absl::SkipEmpty());
  std::vector<std::string> fixed;
  for (absl::string_view s : segments) {
    if (std::any_of(s.begin(), s.end(), IsWildcard)) break;
    fixed.emplace_back(s);
  }
  *base = absl::StrJoin(fixed, "/");
  for (const DatastoreFile& f : files) {
    std::vector<absl::string_view> parts = absl::StrSplit(f.path, '/');
    if (MatchSegments(segments, 0, parts, 0)) out.push_back(f);
  }
  return out;
}

}  // namespace amlcore::domain
