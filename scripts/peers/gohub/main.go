// gohub: the chat server of The Go Programming Language (gopl.io/ch8/chat) over
// WebSocket, written the way Go users write a broadcast hub on gorilla/websocket: the
// pattern of gorilla's own examples/chat. One hub goroutine owns the set of clients and
// serves three channels (register, unregister, broadcast); each client has a readPump
// and a writePump goroutine and a buffered send channel, and the hub drops a client
// whose send channel is full.
//
// It speaks the seed's protocol (../shared/reference/chat.go), each line one text
// message without "\n": "You are ADDR" first, then "ADDR has arrived" to the others,
// "ADDR: text" for every line to everyone, "ADDR has left". A text message a client
// sends is input like a stream's bytes followed by "\n" (so a message holding "\n" is
// several lines, each without one trailing "\r"), as evchat reads it. Where gorilla's
// example joins the messages queued for a client into one message with "\n" between
// them, this writes each as a message of its own: the protocol says one line, one
// message.
//
// Used by scripts/bench (the gohub server) against evchat's WebSocket transport. Built
// offline from Debian's golang-github-gorilla-websocket-dev: make build/gohub.
//
//	gohub -addr 127.0.0.1:8080 [-send 256]     the socket at /ws, any Origin
//
// -send is the depth of each client's send channel. A client that falls that many
// messages behind is dropped (a close frame, then "ADDR has left" to the others): under
// a load with more lines in flight than that, raise it, or every client is dropped.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// Time allowed to write a message to the peer.
	writeWait = 10 * time.Second
	// Time allowed to read the next pong message from the peer.
	pongWait = 60 * time.Second
	// Send pings to peer with this period. Must be less than pongWait.
	pingPeriod = (pongWait * 9) / 10
	// Longest message: bufio.Scanner's limit in the seed.
	maxMessageSize = 64 * 1024
)

// Messages queued for a client before the hub drops it (-send; gorilla's example: 256).
var sendBuffer = 256

var (
	newline = []byte{'\n'}
	cr      = []byte{'\r'}
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	CheckOrigin:     func(r *http.Request) bool { return true },
}

// Hub maintains the set of active clients and broadcasts messages to them.
type Hub struct {
	clients    map[*Client]bool
	broadcast  chan []byte
	register   chan *Client
	unregister chan *Client
}

func newHub() *Hub {
	return &Hub{
		clients:    make(map[*Client]bool),
		broadcast:  make(chan []byte),
		register:   make(chan *Client),
		unregister: make(chan *Client),
	}
}

func (h *Hub) run() {
	for {
		select {
		case client := <-h.register:
			h.clients[client] = true
		case client := <-h.unregister:
			if _, ok := h.clients[client]; ok {
				delete(h.clients, client)
				close(client.send)
			}
		case message := <-h.broadcast:
			for client := range h.clients {
				select {
				case client.send <- message:
				default:
					close(client.send)
					delete(h.clients, client)
				}
			}
		}
	}
}

// Client is a middleman between the websocket connection and the hub.
type Client struct {
	hub  *Hub
	conn *websocket.Conn
	send chan []byte // buffered channel of outbound messages
	who  string
}

// readPump pumps messages from the websocket connection to the hub, one line at a time.
func (c *Client) readPump() {
	defer func() {
		c.hub.unregister <- c
		c.hub.broadcast <- []byte(c.who + " has left")
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { c.conn.SetReadDeadline(time.Now().Add(pongWait)); return nil })
	prefix := []byte(c.who + ": ")
	for {
		_, message, err := c.conn.ReadMessage()
		if err != nil {
			break
		}
		for _, line := range bytes.Split(message, newline) {
			line = bytes.TrimSuffix(line, cr)
			msg := make([]byte, 0, len(prefix)+len(line))
			c.hub.broadcast <- append(append(msg, prefix...), line...)
		}
	}
}

// writePump pumps messages from the hub to the websocket connection.
func (c *Client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case message, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				// The hub closed the channel.
				c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, message); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// serveWs handles websocket requests from the peer: greeting, arrival, then the room.
func serveWs(hub *Hub, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		log.Println(err)
		return
	}
	who := conn.RemoteAddr().String()
	client := &Client{hub: hub, conn: conn, send: make(chan []byte, sendBuffer), who: who}
	client.send <- []byte("You are " + who)
	hub.broadcast <- []byte(who + " has arrived")
	hub.register <- client

	// Allow collection of memory referenced by the caller by doing all work in
	// new goroutines.
	go client.writePump()
	go client.readPump()
}

func main() {
	addr := flag.String("addr", "localhost:8080", "listen address")
	flag.IntVar(&sendBuffer, "send", sendBuffer, "messages queued for a client before it is dropped")
	flag.Parse()
	hub := newHub()
	go hub.run()
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		serveWs(hub, w, r)
	})
	server := &http.Server{Addr: *addr, ReadHeaderTimeout: 3 * time.Second}
	log.Fatal(server.ListenAndServe())
}
