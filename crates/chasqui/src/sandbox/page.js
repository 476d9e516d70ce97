"use strict";
(() => {
  const root = location.pathname.replace(/\/sandbox\/?$/, "");
  const $ = (id) => document.getElementById(id);
  const KEY = "chasqui.sandbox.key";
  let current = null;
  let timer = null;
  let lastRender = "";

  const say = (text) => { $("status").textContent = text || ""; };

  async function api(method, path, body) {
    const key = sessionStorage.getItem(KEY);
    if (!key) throw new Error("Enter the tenant's API key first.");
    const res = await fetch(root + path, {
      method,
      headers: Object.assign({ Authorization: "Bearer " + key }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || ("HTTP " + res.status));
    return data;
  }

  const channelParam = () => ($("channel").value ? "channel_id=" + encodeURIComponent($("channel").value) : "");

  async function loadChannels() {
    const list = await api("GET", "/v1/channels?limit=100");
    const select = $("channel");
    select.replaceChildren();
    for (const c of list.data.filter((c) => c.kind === "sandbox")) {
      const opt = document.createElement("option");
      opt.value = c.id;
      opt.textContent = (c.display_phone_number || c.phone_number_id) + " — " + c.name;
      select.append(opt);
    }
    if (!select.options.length) say("This tenant has no sandbox channel; create one with POST /sandbox/channels.");
  }

  async function loadCustomers() {
    const box = $("customers");
    box.replaceChildren();
    const list = await api("GET", "/sandbox/customers?" + channelParam());
    for (const c of list.data.slice(0, 12)) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = "+" + c.wa_id + (c.profile_name ? " (" + c.profile_name + ")" : "");
      b.addEventListener("click", () => { $("phone").value = "+" + c.wa_id; open(); });
      box.append(b);
    }
  }

  function ticks(m) {
    if (m.direction === "in") return m.status === "read" ? "read by the business" : "sent";
    return { accepted: "🕓 accepted", sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read", failed: "failed" }[m.status] || m.status;
  }

  function render(conv) {
    const snapshot = JSON.stringify(conv);
    if (snapshot === lastRender) return;
    lastRender = snapshot;
    const w = $("window");
    w.textContent = conv.window_open
      ? "The 24-hour window is open until " + new Date(conv.window_closes_at).toLocaleString() + ": the business may send free-form messages."
      : "The 24-hour window is closed: the business can only send templates until the customer writes.";
    if (conv.business_typing) w.textContent += " The business is typing…";
    const ol = $("conversation");
    ol.replaceChildren();
    let unread = null;
    for (const m of conv.data) {
      const li = document.createElement("li");
      li.className = m.direction;
      const who = document.createElement("span");
      who.className = "visually-hidden";
      who.textContent = m.direction === "out" ? "Business: " : "You: ";
      const text = document.createElement("span");
      text.textContent = m.text || "[" + m.type + "]";
      const meta = document.createElement("span");
      meta.className = "meta";
      const status = document.createElement("span");
      status.textContent = ticks(m);
      if (m.status === "read" && m.direction === "out") status.className = "read";
      if (m.status === "failed") status.className = "failed";
      meta.append(new Date(m.timestamp).toLocaleTimeString() + " · ", status);
      if (m.error && m.error.code) meta.append(" · " + m.error.code + " " + (m.error.title || ""));
      li.append(who, text, meta);
      for (const b of m.buttons || []) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "secondary";
        btn.textContent = b.title;
        btn.addEventListener("click", () => write({ type: b.reply_type, id: b.id, payload: b.id, title: b.title, text: b.title, context: m.id }));
        li.append(document.createElement("br"), btn);
      }
      if (m.direction === "out" && ["accepted", "sent", "delivered"].includes(m.status)) {
        if ($("auto-read").checked) {
          unread = m.id;
        } else {
          const r = document.createElement("button");
          r.type = "button";
          r.className = "secondary";
          r.textContent = "Read";
          r.setAttribute("aria-label", "Read this message");
          r.addEventListener("click", () => markRead(m.id));
          li.append(document.createElement("br"), r);
        }
      }
      ol.append(li);
    }
    // Reading the newest message reads every earlier one too, as on a phone.
    if (unread) markRead(unread);
  }

  async function refresh() {
    if (!current) return;
    try {
      render(await api("GET", "/sandbox/customers/" + encodeURIComponent(current) + "/messages?" + channelParam()));
    } catch (e) { say(e.message); }
  }

  async function markRead(id) {
    try {
      await api("POST", "/sandbox/customers/" + encodeURIComponent(current) + "/messages/" + encodeURIComponent(id) + "/read?" + channelParam());
      await refresh();
    } catch (e) { say(e.message); }
  }

  async function write(message) {
    if (!current) { say("Open a chat with a customer number first."); return; }
    const body = Object.assign({ channel_id: $("channel").value || undefined, name: $("name").value.trim() || undefined }, message);
    try {
      await api("POST", "/sandbox/customers/" + encodeURIComponent(current) + "/messages", body);
      say("");
      await refresh();
    } catch (e) { say(e.message); }
  }

  async function open() {
    const phone = $("phone").value.trim();
    if (!phone) return;
    current = phone.replace(/[^\d+]/g, "");
    lastRender = "";
    $("chat-title").textContent = "Conversation with " + phone;
    await refresh();
    clearInterval(timer);
    timer = setInterval(refresh, 1500);
  }

  async function start() {
    try {
      await loadChannels();
      await loadCustomers();
      say("");
    } catch (e) { say(e.message); }
  }

  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    start();
  });
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); say("Key forgotten."); });
  $("open-form").addEventListener("submit", (ev) => { ev.preventDefault(); open(); });
  $("channel").addEventListener("change", () => { loadCustomers().catch((e) => say(e.message)); refresh(); });
  $("reply-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("reply").value;
    if (!text.trim()) return;
    $("reply").value = "";
    write({ text });
  });
  $("reply").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("reply-form").requestSubmit(); }
  });
  $("send-location").addEventListener("click", () => write({ type: "location", name: "Obelisco", address: "Av. 9 de Julio s/n, Buenos Aires" }));
  $("send-image").addEventListener("click", () => write({ type: "image", caption: "Foto del equipo" }));

  if (sessionStorage.getItem(KEY)) start();
})();
