// WriteRing: io_uring set-up, and the batch of sends each flush pass submits and reaps.
#include "write_ring.h"

#include "connection.h"

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <liburing.h>

namespace {

// Fewer context switches to run completions (5.19), one submitting task (6.0): both only
// speed things up, so a kernel that refuses them gets a plain ring.
constexpr unsigned preferred_flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;

}  // namespace

std::unique_ptr<WriteRing> WriteRing::open(unsigned batch, std::string& why)
{
    auto ring = std::make_unique<io_uring>();
    int r = io_uring_queue_init(batch, ring.get(), preferred_flags);
    if (r == -EINVAL)
        r = io_uring_queue_init(batch, ring.get(), 0);
    if (r < 0) {
        why = std::string("io_uring_setup: ") + strerror(-r);
        return nullptr;
    }
    // A profile may allow the setup and refuse what follows: one no-op submitted and reaped
    // proves io_uring_enter, the probe io_uring_register.
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_nop(sqe);
    r = io_uring_submit_and_wait(ring.get(), 1);
    io_uring_cqe* cqe;
    if (r >= 0 && io_uring_peek_cqe(ring.get(), &cqe) == 0)
        io_uring_cqe_seen(ring.get(), cqe);
    io_uring_probe* probe = r < 0 ? nullptr : io_uring_get_probe_ring(ring.get());
    if (r < 0)
        why = std::string("io_uring_enter: ") + strerror(-r);
    else if (!probe)
        why = "io_uring_register: cannot probe the operations";
    else if (!io_uring_opcode_supported(probe, IORING_OP_SENDMSG) || !io_uring_opcode_supported(probe, IORING_OP_SEND))
        why = "the kernel's io_uring has no send or sendmsg";
    if (probe)
        io_uring_free_probe(probe);
    if (!why.empty()) {
        io_uring_queue_exit(ring.get());
        return nullptr;
    }
    return std::unique_ptr<WriteRing>(new WriteRing(std::move(ring), batch));
}

WriteRing::WriteRing(std::unique_ptr<io_uring> ring, unsigned batch)
    : ring_(std::move(ring)), sends_(batch)
{
}

WriteRing::~WriteRing()
{
    assert(added_ == 0);
    io_uring_queue_exit(ring_.get());
}

void WriteRing::end()
{
    run();
    batching_ = false;
}

iovec* WriteRing::add(Connection& c)
{
    assert(batching_ && !running_);
    if (added_ == sends_.size())
        run();
    Send& s = sends_[added_];
    s.conn = &c;
    return s.iov;
}

// MSG_DONTWAIT makes a full socket complete the send at once with -EAGAIN instead of the
// ring waiting for room (io_uring's default): every send completes within the submission.
void WriteRing::commit(int fd, size_t count)
{
    assert(count > 0 && count <= max_iov);
    Send& s = sends_[added_];
    s.msg = {};
    s.msg.msg_iov = s.iov;
    s.msg.msg_iovlen = count;
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    assert(sqe);  // the ring has an entry per Send, and is empty after each run
    // One buffer, the usual case (a pass's lines lie together in the log), needs no msghdr.
    if (count == 1)
        io_uring_prep_send(sqe, fd, s.iov[0].iov_base, s.iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    else
        io_uring_prep_sendmsg(sqe, fd, &s.msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, added_);
    added_++;
}

// Why an SQE's iovecs and buffers outlive it: they live in sends_ and in the room log's
// chunks (or a TLS session's sealed records), which no one frees before the connection
// consumes them in sent_by_ring; and the pass destroys connections only after run() has
// reaped every completion, which it does before returning.
void WriteRing::run()
{
    if (added_ == 0)
        return;
    running_ = true;
    size_t reaped = 0;
    while (reaped < added_) {
        int r = io_uring_submit_and_wait(ring_.get(), static_cast<unsigned>(added_ - reaped));
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            // With the sends in the kernel and their buffers about to be reused, there is no
            // safe way on: this is a broken ring, not a peer's doing.
            fprintf(stderr, "evchat: io_uring_submit_and_wait: %s\n", strerror(-r));
            abort();
        }
        io_uring_cqe* cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe)
        {
            sends_[io_uring_cqe_get_data64(cqe)].result = cqe->res;
            seen++;
        }
        io_uring_cq_advance(ring_.get(), seen);
        reaped += seen;
    }
    submitted_ += added_;
    submissions_++;
    // Still running: a connection that writes on from here writes directly.
    for (size_t i = 0; i < added_; i++) {
        size_t offered = 0;
        for (size_t j = 0; j < sends_[i].msg.msg_iovlen; j++)
            offered += sends_[i].iov[j].iov_len;
        int result = sends_[i].result;
        if (result == -EAGAIN || (result >= 0 && static_cast<size_t>(result) < offered))
            short_++;
        sends_[i].conn->sent_by_ring(result, offered);
    }
    added_ = 0;
    running_ = false;
}
