// The demo chat's page: the official socket.io-client (loaded as the global `io`) talking to
// examples/demo/app.py. Every send is acknowledged by the server; the page shows it.
"use strict";

(() => {
  const ACK_TIMEOUT = 5000; // ms to wait for the server's acknowledgement of a message
  const FILE_ACK_TIMEOUT = 20000;
  const TYPING_REPEAT = 2000; // while typing, say so again this often (typing events are volatile)
  const TYPING_PAUSE = 2500; // stopped typing after this long without a key
  const TYPING_FORGET = 5000; // forget someone's "typing" after this long without news
  const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|avif|bmp|svg\+xml)$/;

  const $ = (selector) => document.querySelector(selector);
  const ui = {
    status: $("#status"),
    joinForm: $("#join-form"),
    joinError: $("#join-error"),
    nick: $("#nick"),
    room: $("#room"),
    chat: $("#chat"),
    rooms: $("#rooms"),
    newRoomForm: $("#new-room-form"),
    newRoom: $("#new-room"),
    users: $("#users"),
    roomName: $("#room-name"),
    me: $("#me"),
    leave: $("#leave"),
    messages: $("#messages"),
    typing: $("#typing"),
    sendForm: $("#send-form"),
    text: $("#text"),
    file: $("#file"),
  };

  const state = {
    nick: sessionStorage.getItem("chat.nick") || "",
    room: sessionStorage.getItem("chat.room") || null, // the room we are in (null: none)
    maxFileSize: 0,
    typers: new Map(), // socket id -> {nick, timer}
    typingSentAt: 0,
    typingTimer: null,
  };

  const socket = io(); // same origin, default path /socket.io, reconnects by itself

  // ------------------------------------------------------------------ connection status
  function setStatus(kind, text) {
    ui.status.dataset.state = kind;
    ui.status.textContent = text || kind;
  }

  setStatus("connecting", "connecting…");

  socket.on("connect", () => {
    setStatus("connected");
    if (state.nick && state.room) {
      enterRoom(state.room, { rejoin: true }); // after a reconnection, or a page reload
    }
  });

  socket.on("disconnect", (reason) => {
    // socket.active: the client reconnects by itself (not after a server-side disconnect)
    if (socket.active) {
      setStatus("reconnecting", "reconnecting…");
    } else {
      setStatus("disconnected", `disconnected (${reason})`);
    }
    clearTypers();
  });

  socket.io.on("reconnect_attempt", (attempt) => {
    setStatus("reconnecting", `reconnecting… (attempt ${attempt})`);
  });

  socket.io.on("reconnect_failed", () => setStatus("disconnected"));

  socket.on("connect_error", (error) => {
    if (!socket.active) {
      setStatus("disconnected", `disconnected (${error.message})`);
    }
  });

  socket.on("hello", ({ maxFileSize, rooms }) => {
    state.maxFileSize = maxFileSize;
    renderRooms(rooms);
  });

  // ------------------------------------------------------------------ joining and leaving
  async function enterRoom(room, { rejoin = false } = {}) {
    let answer;
    try {
      answer = await socket.timeout(ACK_TIMEOUT).emitWithAck("join", { nick: state.nick, room });
    } catch {
      answer = { ok: false, error: "the server did not answer" };
    }
    if (!answer.ok) {
      if (ui.chat.hidden) {
        ui.joinError.textContent = answer.error;
        ui.joinError.hidden = false;
      } else {
        addNotice(`Could not join #${room}: ${answer.error}`, "error");
      }
      return;
    }
    const changed = answer.room !== state.room || ui.chat.hidden;
    state.nick = answer.nick;
    state.room = answer.room;
    sessionStorage.setItem("chat.nick", state.nick);
    sessionStorage.setItem("chat.room", state.room);
    showChat();
    if (changed && !rejoin) {
      ui.messages.replaceChildren();
      clearTypers();
    }
    ui.roomName.textContent = `#${state.room}`;
    setSendingEnabled(true);
    renderUsers(answer.users);
    highlightRoom();
    addNotice(rejoin ? `Back in #${state.room}` : `You joined #${state.room}`);
    ui.text.focus();
  }

  async function leaveRoom() {
    if (!state.room) return;
    const room = state.room;
    try {
      await socket.timeout(ACK_TIMEOUT).emitWithAck("leave");
    } catch {
      // the server forgets us anyway when we are gone
    }
    state.room = null;
    sessionStorage.removeItem("chat.room");
    ui.roomName.textContent = "no room";
    ui.messages.replaceChildren();
    renderUsers([]);
    clearTypers();
    setSendingEnabled(false);
    highlightRoom();
    addNotice(`You left #${room}. Pick a room on the left.`);
  }

  function showChat() {
    ui.joinForm.hidden = true;
    ui.joinError.hidden = true;
    ui.chat.hidden = false;
    ui.me.textContent = state.nick;
  }

  function setSendingEnabled(enabled) {
    for (const element of ui.sendForm.elements) element.disabled = !enabled;
    ui.leave.disabled = !enabled;
  }

  ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.nick = ui.nick.value.trim();
    enterRoom(ui.room.value.trim() || "lobby");
  });

  ui.newRoomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = ui.newRoom.value.trim();
    if (room) {
      ui.newRoom.value = "";
      enterRoom(room);
    }
  });

  ui.leave.addEventListener("click", leaveRoom);

  // ------------------------------------------------------------------ rooms and people
  socket.on("rooms", renderRooms);

  function renderRooms(rooms) {
    ui.rooms.replaceChildren(
      ...rooms.map(({ name, users }) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.room = name;
        button.textContent = `#${name}`;
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = users;
        button.append(count);
        button.addEventListener("click", () => state.nick && enterRoom(name));
        item.append(button);
        return item;
      }),
    );
    highlightRoom();
  }

  function highlightRoom() {
    for (const button of ui.rooms.querySelectorAll("button")) {
      button.classList.toggle("current", button.dataset.room === state.room);
    }
  }

  function renderUsers(users) {
    ui.users.replaceChildren(
      ...users.map((nick) => {
        const item = document.createElement("li");
        item.textContent = nick;
        return item;
      }),
    );
  }

  socket.on("presence", ({ room, nick, action, users }) => {
    if (room !== state.room) return;
    addNotice(`${nick} ${action}`, "presence");
    renderUsers(users);
  });

  // ------------------------------------------------------------------ messages
  function nearBottom() {
    const list = ui.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function addEntry(className) {
    const stick = nearBottom();
    const item = document.createElement("li");
    item.className = className;
    ui.messages.append(item);
    if (stick) item.scrollIntoView({ block: "end" });
    return item;
  }

  function addNotice(text, kind = "notice") {
    addEntry(`notice ${kind}`).textContent = text;
  }

  function formatTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function humanSize(size) {
    if (size < 1024) return `${size} bytes`;
    if (size < 1024 * 1024) return `${Math.round(size / 1024)} KB`;
    return `${(size / (1024 * 1024)).toFixed(1)} MB`;
  }

  /** A message bubble: {item, body, delivery} (delivery only for our own). */
  function addMessage({ nick, time, own }) {
    const item = addEntry(own ? "message own" : "message");
    item.dataset.nick = nick;
    const header = document.createElement("div");
    header.className = "meta";
    const who = document.createElement("span");
    who.className = "nick";
    who.textContent = nick;
    const when = document.createElement("time");
    when.dateTime = new Date(time).toISOString();
    when.textContent = formatTime(time);
    header.append(who, " ", when);
    const body = document.createElement("div");
    body.className = "body";
    item.append(header, body);
    let delivery = null;
    if (own) {
      delivery = document.createElement("span");
      delivery.className = "delivery sending";
      delivery.textContent = "sending…";
      header.append(" ", delivery);
    }
    return { item, body, delivery, when };
  }

  function addText(body, text) {
    const paragraph = document.createElement("p");
    paragraph.className = "text";
    paragraph.textContent = text;
    body.append(paragraph);
  }

  function addFile(body, { name, type, size }, blob) {
    const url = URL.createObjectURL(blob);
    if (IMAGE_TYPES.test(type)) {
      const image = document.createElement("img");
      image.className = "shared-image";
      image.src = url;
      image.alt = name;
      body.append(image);
    }
    const link = document.createElement("a");
    link.className = "download";
    link.href = url;
    link.download = name;
    link.textContent = `${name} (${humanSize(size)})`;
    body.append(link);
  }

  /** Emit with an acknowledgement and show the outcome on our own message. */
  async function deliver(entry, timeout, event, ...args) {
    let answer;
    try {
      answer = await socket.timeout(timeout).emitWithAck(event, ...args);
    } catch {
      answer = { ok: false, error: "no answer from the server" };
    }
    if (answer.ok) {
      entry.delivery.className = "delivery delivered";
      entry.delivery.textContent = "✓ delivered";
      entry.when.textContent = formatTime(answer.time);
      entry.item.dataset.id = answer.id;
    } else {
      entry.delivery.className = "delivery failed";
      entry.delivery.textContent = `✗ not delivered: ${answer.error}`;
    }
  }

  socket.on("message", (message) => {
    if (message.room !== state.room) return;
    forgetTyper(message.nick);
    const entry = addMessage(message);
    entry.item.dataset.id = message.id;
    addText(entry.body, message.text);
  });

  socket.on("file", (meta, data) => {
    if (meta.room !== state.room) return;
    // binary data arrives as an ArrayBuffer
    const entry = addMessage(meta);
    entry.item.dataset.id = meta.id;
    entry.item.classList.add("file");
    addFile(entry.body, meta, new Blob([data], { type: meta.type }));
  });

  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    if (!text || !state.room) return;
    ui.text.value = "";
    stopTyping();
    const entry = addMessage({ nick: state.nick, time: Date.now(), own: true });
    addText(entry.body, text);
    deliver(entry, ACK_TIMEOUT, "message", { text });
  });

  ui.file.addEventListener("change", async () => {
    const files = [...ui.file.files];
    ui.file.value = "";
    for (const file of files) await sendFile(file);
  });

  async function sendFile(file) {
    if (!state.room) return;
    if (state.maxFileSize && file.size > state.maxFileSize) {
      const limit = humanSize(state.maxFileSize);
      addNotice(`${file.name} is too large (${humanSize(file.size)}; the limit is ${limit})`, "error");
      return;
    }
    const meta = { name: file.name, type: file.type || "application/octet-stream" };
    const entry = addMessage({ nick: state.nick, time: Date.now(), own: true });
    entry.item.classList.add("file");
    addFile(entry.body, { ...meta, size: file.size }, file);
    // an ArrayBuffer argument is sent as a binary attachment, not as text
    await deliver(entry, FILE_ACK_TIMEOUT, "file", meta, await file.arrayBuffer());
  }

  // ------------------------------------------------------------------ typing indicator
  ui.text.addEventListener("input", () => {
    if (!ui.text.value) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - state.typingSentAt > TYPING_REPEAT) {
      socket.volatile.emit("typing", true); // volatile: dropped rather than queued when offline
      state.typingSentAt = now;
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_PAUSE);
  });

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSentAt) {
      socket.volatile.emit("typing", false);
      state.typingSentAt = 0;
    }
  }

  socket.on("typing", ({ room, id, nick, typing }) => {
    if (room !== state.room) return;
    const known = state.typers.get(id);
    if (known) clearTimeout(known.timer);
    if (typing) {
      const timer = setTimeout(() => {
        state.typers.delete(id);
        renderTypers();
      }, TYPING_FORGET);
      state.typers.set(id, { nick, timer });
    } else {
      state.typers.delete(id);
    }
    renderTypers();
  });

  function forgetTyper(nick) {
    for (const [id, typer] of state.typers) {
      if (typer.nick === nick) {
        clearTimeout(typer.timer);
        state.typers.delete(id);
      }
    }
    renderTypers();
  }

  function clearTypers() {
    for (const typer of state.typers.values()) clearTimeout(typer.timer);
    state.typers.clear();
    renderTypers();
  }

  function renderTypers() {
    const nicks = [...state.typers.values()].map((typer) => typer.nick);
    let text = "";
    if (nicks.length === 1) text = `${nicks[0]} is typing…`;
    else if (nicks.length === 2) text = `${nicks[0]} and ${nicks[1]} are typing…`;
    else if (nicks.length > 2) text = `${nicks.length} people are typing…`;
    ui.typing.textContent = text;
  }

  // prefill the form with what this tab used last
  ui.nick.value = state.nick;
})();
