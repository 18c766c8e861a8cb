// Broadcaster: the room's rules — who is in it, and what an arrival, a line and a leave
// say to whom, in one global order. Owned by the server; it knows no sockets.
#pragma once

#include "config.h"
#include "intrusive_list.h"
#include "presence_summary.h"
#include "room_event.h"
#include "room_history.h"
#include "room_log.h"
#include "room_roster.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

// One participant as the room sees it. Embedded in its session, which must call
// Broadcaster::release() before it goes away; the reader is its connection's.
struct Member {
    Member(std::string name, RoomLog::Reader& reader) : name(std::move(name)), reader(reader) {}
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;

    std::string name;         // ADDR (or the chosen name) in every line about this member
    RoomLog::Reader& reader;  // what it receives: opened at its arrival, stopped at its leave
    bool in_room = false;
    bool arriving = false;    // its arrival is on its way through the relay's global order
    std::optional<size_t> history;  // with [room] history: the lines lent to it at its admission
    std::string roster;       // with [room] roster: the others present at its admission
    ListLink<Member> link;    // the room's members in order of arrival
};

// Carries the room's events through a global order shared by several nodes and hands
// each back to Broadcaster::apply() in that order (the cluster's Redis stream).
class Relay {
public:
    virtual ~Relay() = default;
    // arriving: the local member an arrival admits when it comes back, else null.
    virtual void publish(const RoomEvent& e, Member* arriving) = 0;
    // m goes away: an arrival of its that comes back later admits nobody.
    virtual void forget(Member& m) = 0;
};

// The room's lines in another form, for readers that cannot take them as they are
// (WebSocket clients: a text frame each). Implemented by the transport that needs it.
class LineEncoding {
public:
    // Appends the record for one line made of parts, the last of which is its "\n".
    virtual void encode(std::string& out, std::initializer_list<std::string_view> line) = 0;
    virtual RoomLog::RecordSize record_size() const = 0;

protected:
    ~LineEncoding() = default;
};

// Without a relay every event applies at once; with one, an event applies when the relay
// hands it back, and an arriving member joins only then (it hears everything after its
// own arrival in the global order, like the Go program's newcomer).
class Broadcaster {
public:
    explicit Broadcaster(size_t chunk_size = 64 * 1024) : log_(chunk_size) {}

    void set_relay(Relay* relay) { relay_ = relay; }
    // Readers that want the room's lines encoded (RoomLog::Reader::set_encoded) read a
    // second log, in which each line is encoded once for all of them; it is kept only
    // while such a reader is in the room.
    void set_encoding(LineEncoding* encoding) { encoding_ = encoding; }
    // [room] history and presence; max_line ([client] max_line_bytes) bounds a summary line.
    // A summary pending when presence leaves "summary" is said first.
    void configure(const RoomConfig& room, size_t max_line);

    // The others hear "NAME has arrived"; then m joins, and hears all said from here on.
    void arrive(Member& m);
    // Everyone in the room, m included, hears "NAME: text".
    void say(const Member& m, std::string_view text);
    // Everyone hears "* NAME action".
    void emote(const Member& m, std::string_view action);
    // Everyone hears "OLD is now NEW"; from then on m is NEW.
    void rename(Member& m, std::string_view name);
    // m hears nothing said from here on; then the others hear "NAME has left". A member
    // whose arrival is still on its way leaves too: the others hear both, in order.
    void leave(Member& m);
    // This node is closing: m hears nothing more. Alone, nobody is left to be told; with a
    // relay, the other nodes' members hear that m left.
    void close(Member& m);
    // In the room, or on its way in: a member the others will hear leave.
    bool present(const Member& m) const { return m.in_room || m.arriving; }
    // m goes away: its reader no longer holds the log.
    void release(Member& m);
    // An event in the global order; arriving is the local member it admits, if any. origin
    // is the node whose member the event is about ("" alone); counted: the roster already
    // holds what the event changes (it was loaded from Redis after the event).
    void apply(const RoomEvent& e, Member* arriving, std::string_view origin = {}, bool counted = false);
    // A line said before this node was in the room (a chat line or /me from the cluster's
    // stream, oldest first, before any event applies): into the history, to nobody.
    void recall(const RoomEvent& e);
    // With presence "summary": whether arrivals or leaves wait to be said, and saying them
    // now, as one line to everyone in the room.
    bool presence_waiting() const { return !summary_.empty(); }
    void say_presence();

    bool has_member_named(std::string_view name) const;
    // Calls f(const Member&) for each member in the room, in order of arrival.
    template <class F>
    void each_member(F&& f) const
    {
        members_.each([&](const Member& m) { f(m); });
    }
    // Everyone in the room, on every node ("Present (N): ...", RoomRoster::line).
    std::string roster(size_t max_line) { return roster_.line(max_line); }
    // What the roster knows, for a cluster node that loads or corrects it from Redis.
    RoomRoster& whole_room() { return roster_; }

    size_t size() const { return size_; }
    // Grows whenever the room says a line, or admits a member through a relay (whose
    // greeting the flush pass gives, though with presence "summary" or "none" the room
    // says nothing of it): what the flush pass watches.
    uint64_t changes() const { return changes_; }
    // Lines members said (lines, /me), and lines handed to readers counted once per reader.
    uint64_t lines_said() const { return lines_said_; }
    uint64_t deliveries() const { return deliveries_; }
    RoomLog& log() { return log_; }
    // The encoded log, if there has ever been a reader of it.
    const RoomLog* encoded_log() const { return encoded_.get(); }
    // The history, if [room] history has ever been on.
    const RoomHistory* history() const { return history_.get(); }

private:
    // Where a line goes: the room's logs, those and the history, or the history alone.
    enum class Line { heard, said, recalled };

    void happen(const RoomEvent& e, Member* arriving);
    void announce(std::string_view name, bool arrived);
    void tell(const RoomEvent& e, Line how);
    void append(std::initializer_list<std::string_view> line, Line how);
    void admit(Member& m);
    void silence(Member& m);

    RoomLog log_;
    Relay* relay_ = nullptr;
    LineEncoding* encoding_ = nullptr;
    std::unique_ptr<RoomLog> encoded_;
    size_t encoded_readers_ = 0;  // in the room: while there is none, nothing is encoded
    std::string scratch_;         // one line, encoded
    size_t size_ = 0;
    uint64_t lines_said_ = 0;
    uint64_t deliveries_ = 0;
    uint64_t changes_ = 0;
    IntrusiveList<Member, &Member::link> members_;  // this node's, in order of arrival
    RoomRoster roster_;          // the whole room's, in the global order
    bool roster_on_ = false;     // [room] roster: a newcomer is lent the roster line
    size_t max_line_ = 0;
    Presence presence_ = Presence::each;
    PresenceSummary summary_;
    std::unique_ptr<RoomHistory> history_;  // made when [room] history is first on
    bool history_on_ = false;
};
