#include "common/log_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace amlcore {
namespace {

int OpenForAppend(const std::string& path, int extra_flags = 0) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | extra_flags, 0600);
}

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk loses output; it must not stop the process
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

struct LogCapture::Impl {
  std::string path;
  Options options;
  int file = -1;
  size_t file_size = 0;
  int pipe_read = -1;
  int wake = -1;  // eventfd: a flush or stop is asked for
  std::thread thread;

  std::mutex mu;
  std::condition_variable flushed_cv;
  uint64_t flush_asked = 0;
  uint64_t flush_done = 0;
  bool stopping = false;

  ~Impl() {
    for (int fd : {file, pipe_read, wake}) {
      if (fd >= 0) close(fd);
    }
  }

  // Starts a new file; the current one becomes "<path>.1".
  void Rotate() {
    std::string rotated = absl::StrCat(path, ".1");
    if (rename(path.c_str(), rotated.c_str()) == 0) {
      int next = OpenForAppend(path, O_TRUNC);
      if (next >= 0) {
        close(file);
        file = next;
        file_size = 0;
        return;
      }
    }
    // Cannot rotate (the directory is read-only or gone): start the file over rather than grow it.
    if (ftruncate(file, 0) == 0) file_size = 0;
  }

  void Append(const char* data, size_t size) {
    const size_t cap = std::max<size_t>(options.max_file_bytes, 1);
    while (size > 0) {
      size_t room = file_size >= cap ? 0 : cap - file_size;
      if (room == 0) {
        Rotate();
        if (file_size >= cap) return;  // neither rotated nor truncated: drop rather than grow
        continue;
      }
      size_t take = std::min(size, room);
      if (take < size) {
        // The cap falls inside this data: the file ends after the last whole line that fits.
        const void* newline = memrchr(data, '\n', take);
        if (newline != nullptr) {
          take = static_cast<size_t>(static_cast<const char*>(newline) - data) + 1;
        } else if (file_size > 0) {
          Rotate();  // a line that does not fit starts the next file
          continue;
        }
      }
      WriteAll(file, data, take);
      file_size += take;
      data += take;
      size -= take;
    }
  }

  // Copies what the pipe holds now.
  void Drain() {
    std::array<char, 64 * 1024> buffer;
    while (true) {
      ssize_t n = read(pipe_read, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EAGAIN: empty; 0: no writer left
      Append(buffer.data(), static_cast<size_t>(n));
    }
  }

  void Loop() {
    bool writers = true;
    while (true) {
      pollfd fds[2] = {{writers ? pipe_read : -1, POLLIN, 0}, {wake, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        Drain();
        // Every writer closed its end: nothing more can come, only wake-ups.
        if (!(fds[0].revents & POLLIN)) writers = false;
      }
      if (fds[1].revents & POLLIN) {
        uint64_t ignored;
        [[maybe_unused]] ssize_t n = read(wake, &ignored, sizeof(ignored));
        Drain();
        std::lock_guard lock(mu);
        flush_done = flush_asked;
        flushed_cv.notify_all();
        if (stopping) return;
      }
    }
  }

  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake, &one, sizeof(one));
  }
};

absl::StatusOr<std::unique_ptr<LogCapture>> LogCapture::Start(const std::string& path, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->file = OpenForAppend(path);
  if (impl->file < 0) return absl::PermissionDeniedError(absl::StrCat("Cannot open ", path, ": ", std::strerror(errno)));
  struct stat st;
  if (fstat(impl->file, &st) == 0) impl->file_size = static_cast<size_t>(st.st_size);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  impl->pipe_read = fds[0];
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  // room for bursts while the thread writes; best effort
  impl->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->wake < 0) {
    close(fds[1]);
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  std::fflush(nullptr);  // what stdio holds goes to the file before the pipe takes over
  for (int fd : options.descriptors) dup2(fds[1], fd);  // inherited by children, exec'd ones too
  close(fds[1]);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<LogCapture>(new LogCapture(std::move(impl)));
}

LogCapture::LogCapture(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LogCapture::~LogCapture() {
  Flush();
  // Whatever is written while the process exits goes straight to the file.
  for (int fd : impl_->options.descriptors) dup2(impl_->file, fd);
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    ++impl_->flush_asked;
  }
  impl_->Wake();
  impl_->thread.join();
}

void LogCapture::Flush() {
  std::fflush(nullptr);
  std::unique_lock lock(impl_->mu);
  uint64_t ticket = ++impl_->flush_asked;
  impl_->Wake();
  // Bounded, so that a stuck disk cannot keep a process from exiting.
  impl_->flushed_cv.wait_for(lock, std::chrono::seconds(5), [&] { return impl_->flush_done >= ticket; });
}

}  // namespace amlcore
