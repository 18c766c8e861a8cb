// WriteRing: the flush pass's writes through io_uring — a send per connection, submitted a
// batch at a time and each batch reaped before the pass goes on. Owned by the server's Io.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <sys/uio.h>
#include <vector>

struct io_uring;
class Connection;

class WriteRing {
public:
    static constexpr size_t max_iov = 64;

    // A ring that submits `batch` sends at a time, or null with why saying what refused it
    // (the kernel, its io_uring_disabled setting, a seccomp profile).
    static std::unique_ptr<WriteRing> open(unsigned batch, std::string& why);
    ~WriteRing();
    WriteRing(const WriteRing&) = delete;
    WriteRing& operator=(const WriteRing&) = delete;

    // Whether sends added now go out with the pass's submission (between begin and end).
    bool batching() const { return batching_ && !running_; }
    void begin() { batching_ = true; }
    // Runs what is still added, then writes go out one by one again.
    void end();
    // The iovecs for c's next send (up to max_iov), to be filled and then committed; when a
    // batch is full, it runs first.
    iovec* add(Connection& c);
    void commit(int fd, size_t count);
    // Submits what was added, waits for every completion and hands each connection its
    // result (bytes sent, or -errno), in the order added.
    void run();
    // Sends submitted, submissions, and sends the socket took less of than offered
    // (EAGAIN included), in all.
    unsigned long long submitted() const { return submitted_; }
    unsigned long long submissions() const { return submissions_; }
    unsigned long long short_sends() const { return short_; }

private:
    struct Send {
        Connection* conn;
        int result;
        msghdr msg;
        iovec iov[max_iov];
    };

    WriteRing(std::unique_ptr<io_uring> ring, unsigned batch);

    std::unique_ptr<io_uring> ring_;
    std::vector<Send> sends_;  // a batch: what its entries point to lives here
    size_t added_ = 0;
    bool batching_ = false;
    bool running_ = false;
    unsigned long long submitted_ = 0;
    unsigned long long submissions_ = 0;
    unsigned long long short_ = 0;
};
