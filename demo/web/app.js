// shopbot demo page: plays users through /api and renders what the bots
// really sent, read back from the Telegram and Discord stand-ins.
"use strict";

const ui = { role: "buyer", version: "", data: null, cache: {}, invoices: {}, sheet: null };
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// stars paints each ⭐ of escaped HTML as Telegram's Star icon (style.css).
function stars(html) { return html.replace(/\u2B50\uFE0F?/g, '<span class="xtr" role="img" aria-label="Stars">$&</span>'); }
function safeURL(u) { return /^https?:\/\//i.test(u || "") ? u : ""; }
// linkAttrs open a link in a new tab: the chats stay where they were.
const linkAttrs = ' target="_blank" rel="noopener"';

// fmtTime writes a time as the shop's chat messages do (notify.TimeLayout,
// "4 Dec 2026 16:12 UTC"), so the page and the chats spell a date one way.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
function fmtTime(t) {
  const d = new Date(t), p = (n) => String(n).padStart(2, "0");
  return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() + " " + p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) + " UTC";
}

function toast(msg) {
  const t = $("toast");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
}

async function api(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) { toast(out.error || "request failed: " + r.status); throw new Error(out.error || r.status); }
  poll.kick();
  return out;
}

// Telegram text with its entities (offsets in UTF-16 units, as JS strings).
const TG_TAGS = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre", spoiler: "span", blockquote: "blockquote", bot_command: "span", text_link: "a", url: "a" };
// bareLinks are url entities for the http(s) links in text that no entity
// covers: Telegram clients make those clickable whether or not the bot
// marked them.
function bareLinks(text, entities) {
  const out = [], re = /https?:\/\/[^\s<>]+[^\s<>.,;:!?)'"]/g;
  for (let m; (m = re.exec(text));) {
    const a = m.index, b = a + m[0].length;
    if (!(entities || []).some((e) => e.offset < b && a < e.offset + e.length)) out.push({ type: "url", offset: a, length: m[0].length });
  }
  return out;
}
function tgHTML(text, entities) {
  const opens = {}, closes = {};
  (entities || []).concat(bareLinks(text, entities)).forEach((e, i) => {
    const tag = TG_TAGS[e.type];
    if (!tag) return;
    let open = "<" + tag;
    if (e.type === "text_link") open += safeURL(e.url) ? ' href="' + esc(e.url) + '"' + linkAttrs : "";
    if (e.type === "url") open += safeURL(text.substr(e.offset, e.length)) ? ' href="' + esc(text.substr(e.offset, e.length)) + '"' + linkAttrs : "";
    if (e.type === "bot_command") open += ' class="cmd"';
    if (e.type === "spoiler") open += ' class="spoiler"';
    if (e.type === "code") open += ' title="click to copy"';
    (opens[e.offset] = opens[e.offset] || []).push({ open: open + ">", len: e.length, i });
    (closes[e.offset + e.length] = closes[e.offset + e.length] || []).unshift("</" + tag + ">");
  });
  let out = "";
  for (let i = 0; i <= text.length; i++) {
    if (closes[i]) out += closes[i].join("");
    if (opens[i]) out += opens[i].sort((a, b) => b.len - a.len).map((o) => o.open).join("");
    if (i < text.length) out += esc(text[i]);
  }
  return stars(out);
}

// Discord markdown as the adapter writes it: \-escapes, `code`, **bold**,
// *italic*, __underline__, and bare links.
function dcHTML(s) {
  let out = "", open = {};
  const toggle = (mark, tag) => { out += open[mark] ? "</" + tag + ">" : "<" + tag + ">"; open[mark] = !open[mark]; };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\" && i + 1 < s.length && /[^\w\s]/.test(s[i + 1])) { out += esc(s[++i]); continue; }
    if (c === "`") {
      const j = s.indexOf("`", i + 1);
      if (j > i) { out += '<code title="click to copy">' + esc(s.slice(i + 1, j)) + "</code>"; i = j; continue; }
    }
    if (s.startsWith("**", i)) { toggle("**", "b"); i++; continue; }
    if (s.startsWith("__", i)) { toggle("__", "u"); i++; continue; }
    if (c === "*") { toggle("*", "i"); continue; }
    const m = /^https?:\/\/[^\s<>]+/.exec(s.slice(i));
    if (m) { out += '<a href="' + esc(m[0]) + '"' + linkAttrs + ">" + esc(m[0]) + "</a>"; i += m[0].length - 1; continue; }
    out += esc(c);
  }
  if (open["**"]) out += "</b>";
  if (open["__"]) out += "</u>";
  if (open["*"]) out += "</i>";
  return out;
}

// changed reports whether part's data differs from what was last drawn.
function changed(part, value) {
  const s = JSON.stringify(value);
  if (ui.cache[part] === s) return false;
  ui.cache[part] = s;
  return true;
}

function fill(el, html, empty) {
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  el.innerHTML = html || '<div class="empty">' + empty + "</div>";
  if (atBottom || !fill.seen.has(el)) pin(el);
  fill.seen.add(el);
}
fill.seen = new Set();

// pin scrolls a chat to its end and keeps it there while its box changes
// size (the chips row wraps, the window turns, a font loads) until the
// visitor scrolls up.
function pin(el) {
  el.scrollTop = el.scrollHeight;
  el.dataset.pinned = "1";
}
const repin = new ResizeObserver((entries) => entries.forEach((e) => {
  if (e.target.dataset.pinned) e.target.scrollTop = e.target.scrollHeight;
}));
for (const id of ["tg-messages", "dc-messages"]) {
  const el = $(id);
  repin.observe(el);
  el.addEventListener("scroll", () => {
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 4) el.dataset.pinned = "1";
    else delete el.dataset.pinned;
  }, { passive: true });
}

function renderTelegram(d) {
  const msgs = d.telegram[ui.role] || [];
  if (!changed("tg", [ui.role, msgs])) return;
  const me = d[ui.role];
  $("tg-who").textContent = "you are " + me.name + " (tg:" + me.telegram_id + ")";
  fill($("tg-messages"), msgs.map((m) => {
    // A payment is a service line in the chat, as in Telegram.
    if (m.service) return '<div class="tg-msg service" data-id="' + m.id + '"><div class="svc">' + stars(esc(m.service)) + "</div></div>";
    const kb = (m.buttons || []).map((row) => '<div class="row">' + row.map((b) => {
      // A Stars invoice opens the stand-in payment sheet, not a link.
      if (b.invoice) {
        ui.invoices[b.invoice.link] = b.invoice;
        return '<button class="tg-btn stars" data-invoice="' + esc(b.invoice.link) + '">' + stars(esc(b.text)) + "</button>";
      }
      return safeURL(b.url) ? '<a class="tg-btn link" href="' + esc(b.url) + '"' + linkAttrs + ">" + esc(b.text) + "</a>"
        : '<button class="tg-btn" data-msg="' + m.id + '" data-data="' + esc(b.data || "") + '">' + esc(b.text) + "</button>";
    }).join("") + "</div>").join("");
    return '<div class="tg-msg' + (m.from_bot ? "" : " me") + (m.deleted ? " deleted" : "") + '" data-id="' + m.id + '">' +
      '<div class="bubble">' + tgHTML(m.text, m.entities) + '<div class="meta">' + (m.edited ? "edited" : "") + (m.deleted ? " deleted by the bot" : "") + "</div></div>" +
      (kb ? '<div class="kb">' + kb + "</div>" : "") + "</div>";
  }).join(""), "Say <code>/buy</code> to the bot.");
}

function dcButtonsHTML(btns) {
  if (!btns || !btns.length) return "";
  return '<div class="dc-btns">' + btns.map((b) => safeURL(b.url)
    ? '<a class="dc-btn link" href="' + esc(b.url) + '"' + linkAttrs + ">" + esc(b.label) + "</a>"
    : '<button class="dc-btn" data-custom="' + esc(b.custom_id) + '">' + esc(b.label) + "</button>").join("") + "</div>";
}

function renderDiscord(d) {
  const entries = d.discord[ui.role] || [];
  if (!changed("dc", [ui.role, entries, d.discord_ready])) return;
  const me = d[ui.role];
  $("dc-who").textContent = d.discord_ready ? "you are " + me.name + " (discord:" + me.discord_id + ")" : "connecting the bot…";
  fill($("dc-messages"), entries.map((e) => {
    if (e.kind === "dm") {
      return '<div class="dc-entry dm"><div class="used">Direct message</div><span class="author">shopbot</span><span class="tag">APP</span>' +
        '<div class="content">' + dcHTML(e.text) + "</div>" + dcButtonsHTML(e.buttons) + "</div>";
    }
    const used = e.kind === "click" ? "clicked <b>" + esc(e.text) + "</b>" : "used <b>" + esc(e.text) + "</b>";
    const r = e.reply;
    let body = '<div class="thinking">shopbot is thinking…</div>';
    if (r && !r.thinking) {
      body = r.deleted ? '<div class="thinking">(reply deleted)</div>'
        : '<div class="content">' + dcHTML(r.content) + "</div>" + dcButtonsHTML(r.buttons);
    }
    return '<div class="dc-entry" data-interaction="' + esc(e.interaction_id) + '"><div class="used">' + esc(me.name) + " " + used + "</div>" +
      '<span class="author">shopbot</span><span class="tag">APP</span>' + body +
      (r && r.ephemeral ? '<div class="eph">Only you can see this · <u>Dismiss message</u></div>' : "") + "</div>";
  }).join(""), d.discord_ready ? "Run <code>/buy</code> or <code>/activate KEY</code>." : "Waiting for the bot to connect to the gateway…");
}

function pill(s) { return '<span class="pill ' + esc(s) + '">' + esc(s) + "</span>"; }
function when(t) { return t ? fmtTime(t) : "never"; }

function renderClock(d) {
  const c = d.clock || {};
  const day = c.now ? fmtTime(c.now) : "…";
  if (changed("clock", [day, c.days_ahead])) {
    $("clock-date").textContent = day;
    $("clock-ahead").textContent = c.days_ahead ? "· " + c.days_ahead + " day(s) ahead of real time" : "· real time";
  }
  if (changed("auth", [d.validations, d.heartbeats])) {
    $("auth-calls").textContent = "AuthForge calls: " + d.validations + " validation(s), " + d.heartbeats + " heartbeat(s)";
  }
}

function advance(days) {
  return api("/api/clock/advance", { days }).then((out) => {
    const removed = out.removed ? "; the sweeper removed " + out.removed + " activation(s)" : "";
    toast("Skipped " + days + " day(s) ahead" + removed + (out.sweep_error ? "; sweep failed: " + out.sweep_error : ""));
  }, () => {});
}

function renderPanel(d) {
  renderClock(d);
  if (changed("feed", d.feed)) {
    $("feed").innerHTML = (d.feed || []).filter((m) => m.from_bot).slice(-8).reverse()
      .map((m) => '<div class="item feed-line">' + esc(m.text).replace(/\n/g, "<br>") + "</div>").join("") ||
      '<span class="muted">none yet: sales, refunds, failures show here</span>';
  }
  if (changed("roles", d.roles)) {
    $("roles").innerHTML = ["buyer", "admin"].map((r) => {
      const p = d[r], roles = d.roles[r] || [];
      return '<div id="roles-' + r + '">' + esc(p.name) + ": " + (roles.length ? roles.map((x) => '<span class="role">@' + esc(x.name) + "</span>").join("") : '<span class="muted">no shop roles</span>') + "</div>";
    }).join("");
  }
  if (changed("lic", [d.licenses, d.credits_used, d.clock && d.clock.days_ahead])) {
    $("credits").textContent = "· credits used: " + d.credits_used;
    $("licenses").innerHTML = (d.licenses || []).map((l) => {
      // A slot is used by a holder (the shop has their activation) or only
      // bound in AuthForge: revoking keeps the HWIDs there but removes
      // every activation, so nobody holds the key any more.
      const slots = [], holders = l.holders || [];
      for (let i = 0; i < Math.max(l.max_slots, l.hwids.length); i++) {
        const h = l.hwids[i];
        slots.push(!h ? '<span class="slot">free</span>'
          : holders.includes(h) ? '<span class="slot used">' + esc(h) + "</span>"
            : '<span class="slot bound" title="still bound in AuthForge; no activation in the shop">' + esc(h) + " · no access</span>");
      }
      const holding = '<div class="holders">Holders: ' + (holders.length ? holders.map(esc).join(", ") : "none") +
        " (" + Math.max(holders.length, l.hwids.length) + " of " + l.max_slots + " slots)</div>";
      const status = l.status === "active" && l.expires_at && d.clock && new Date(l.expires_at) <= new Date(d.clock.now) ? "expired" : l.status;
      return '<div class="item license"><div class="k">' + esc(l.key) + "</div>" + pill(status) + " " + esc(l.product || "") +
        ' <span class="muted">owner ' + esc(l.owner || "?") + " · expires " + when(l.expires_at) + "</span>" +
        holding + '<div class="slots">' + slots.join("") + "</div></div>";
    }).join("") || '<span class="muted">none yet</span>';
  }
  if (changed("pay", d.payments)) {
    $("payments").innerHTML = (d.payments || []).map((p) => {
      const acts = [];
      if (p.status === "paid") {
        if (p.mode === "subscription" && !p.canceled) acts.push(["renew", "Renew period"], ["cancel", "Cancel subscription"]);
        if (!p.refunded) acts.push(["refund", "Refund"]);
        if (!p.disputed) acts.push(["dispute", "Dispute"]);
      }
      const flags = [p.refunded && "refunded", p.disputed && "disputed", p.canceled && "canceled", p.renewals && p.renewals + " renewal(s)"].filter(Boolean).join(", ");
      return '<div class="item payment"><div class="k">' + esc(p.id) + "</div>" + pill(p.status) + " " + esc(p.product) + " · " + esc(p.mode) +
        ' <span class="muted">' + esc(p.identity) + (p.period_end ? " · period ends " + when(p.period_end) : "") + (flags ? " · " + esc(flags) : "") + "</span>" +
        (p.status === "open" || p.status === "declined" || p.status === "pending" ? '<div class="actions"><button data-url="/pay/' + esc(p.id) + '">Open checkout</button></div>' : "") +
        (acts.length ? '<div class="actions">' + acts.map((a) => '<button data-action="' + a[0] + '" data-session="' + esc(p.id) + '">' + a[1] + "</button>").join("") + "</div>" : "") + "</div>";
    }).join("") || '<span class="muted">none yet: /buy in a chat</span>';
  }
  if (changed("stars", d.stars)) {
    $("stars").innerHTML = (d.stars || []).map((p) => {
      const acts = [];
      if (p.renewable) acts.push(["renew", "Renew period"]);
      if (!p.refunded) acts.push(["refund", "Refund by Telegram"]);
      const flags = [p.first_charge && (p.first_charge === p.charge_id ? "subscription" : "renewal"), p.canceled && "canceled by the bot"].filter(Boolean).join(", ");
      return '<div class="item stars-payment"><div class="k">' + esc(p.charge_id) + "</div>" + pill(p.refunded ? "refunded" : "paid") + " " + esc(p.title) + " · " + p.stars + stars(" ⭐") +
        ' <span class="muted">' + esc(p.buyer) + (p.period_end ? " · period ends " + when(p.period_end) : "") + (flags ? " · " + esc(flags) : "") + "</span>" +
        (acts.length ? '<div class="actions">' + acts.map((a) => '<button data-stars="' + a[0] + '" data-charge="' + esc(p.charge_id) + '">' + a[1] + "</button>").join("") + "</div>" : "") + "</div>";
    }).join("") || '<span class="muted">none yet: /buy in Telegram, then the ' + stars("⭐") + " button</span>";
  }
  if (changed("ev", d.events)) {
    $("events").innerHTML = (d.events || []).map((e) => '<div class="ev"><span class="k">' + esc(e.type) + '</span><span>' + pill(e.state) +
      (e.attempts > 1 ? ' <span class="muted">×' + e.attempts + "</span>" : "") + "</span>" +
      (e.last_error && e.state !== "done" ? '<span class="err">' + esc(e.last_error) + "</span>" : "") + "</div>").join("") || '<span class="muted">none yet</span>';
  }
}

function render() {
  const d = ui.data;
  if (!d) return;
  renderChips();
  renderTelegram(d);
  renderDiscord(d);
  renderPanel(d);
}

// renderChips fills the command chips. It runs before the chats render:
// the chips row takes height from the chats, and a chat scrolled to its
// end must stay there.
function renderChips() {
  const chips = ui.role === "admin"
    ? { tg: ["/revoke ", "/lookup ", "/stats", "/dashboard"], dc: ["/revoke ", "/lookup "] }
    : { tg: ["/buy", "/license", "/premium", "/help"], dc: ["/buy", "/activate ", "/license", "/premium"] };
  if (changed("chips", [ui.role, chips])) {
    $("tg-chips").innerHTML = chips.tg.map((c) => '<button type="button" data-chip="' + esc(c) + '">' + esc(c.trim()) + "</button>").join("");
    $("dc-chips").innerHTML = chips.dc.map((c) => '<button type="button" data-chip="' + esc(c) + '">' + esc(c.trim()) + "</button>").join("");
  }
}

// poll long-polls /api/state; kick makes the next request start at once.
const poll = {
  ctrl: null,
  kick() { if (this.ctrl) this.ctrl.abort(); },
  async loop() {
    for (;;) {
      this.ctrl = new AbortController();
      try {
        const r = await fetch("/api/state?since=" + encodeURIComponent(ui.version), { signal: this.ctrl.signal });
        if (!r.ok) throw new Error(String(r.status));
        ui.data = await r.json();
        ui.version = ui.data.version;
        render();
      } catch (e) {
        if (e.name !== "AbortError") await new Promise((ok) => setTimeout(ok, 1000));
        if (e.name === "AbortError") ui.version = "";
      }
    }
  },
};

// The stand-in payment sheet: what Telegram shows for a Stars invoice.
function openSheet(inv) {
  ui.sheet = inv;
  $("stars-title").textContent = inv.title;
  $("stars-desc").textContent = inv.description;
  $("stars-price").innerHTML = inv.stars + stars(" ⭐") + (inv.subscription ? " a month" : "");
  $("stars-error").hidden = true;
  $("stars-pay").disabled = false;
  $("stars-pay").innerHTML = (inv.subscription ? "Subscribe for " : "Pay ") + inv.stars + stars(" ⭐");
  $("stars-sheet").hidden = false;
}
function closeSheet() { ui.sheet = null; $("stars-sheet").hidden = true; }
function sheetError(msg) { $("stars-error").textContent = msg; $("stars-error").hidden = false; $("stars-pay").disabled = false; }
function paySheet() {
  const inv = ui.sheet;
  if (!inv) return;
  $("stars-pay").disabled = true;
  $("stars-error").hidden = true;
  api("/api/telegram/pay", { as: ui.role, link: inv.link }).then((out) => {
    if (out.ok) { closeSheet(); toast("Paid " + inv.stars + " ⭐: the bot delivers the key in the chat"); return; }
    sheetError(out.late ? "The shop did not confirm the order within 10 seconds; nothing was charged." : out.error_message || "The shop refused the payment.");
  }, (e) => sheetError(e.message));
}

function send(kind, input) {
  const text = input.value.trim();
  if (!text) return;
  api("/api/" + kind + "/send", { as: ui.role, text }).then(() => { input.value = ""; }, () => {});
}

function setRole(role) {
  ui.role = role;
  document.querySelectorAll(".persona button").forEach((b) => b.classList.toggle("on", b.dataset.role === role));
  // The admin opens the web dashboard signed in, as /dashboard would.
  $("dashboard-link").hidden = role !== "admin";
  render();
}

document.addEventListener("click", (ev) => {
  if (ev.target.id === "stars-sheet") return closeSheet(); // the backdrop
  const el = ev.target.closest("button, code");
  if (!el) return;
  if (el.tagName === "CODE") {
    if (navigator.clipboard) navigator.clipboard.writeText(el.textContent).then(() => toast("Copied " + el.textContent), () => {});
    return;
  }
  const ds = el.dataset;
  if (ds.sheet) return ds.sheet === "pay" ? paySheet() : closeSheet();
  if (ds.invoice) return ui.invoices[ds.invoice] ? openSheet(ui.invoices[ds.invoice]) : toast("This invoice is gone: /buy again");
  if (ds.stars) return void api("/api/stars/" + ds.stars, { charge: ds.charge }).then(() => toast(ds.stars === "renew" ? "Telegram renewed the subscription" : "Telegram refunded the payment"), () => {});
  if (ds.role) return setRole(ds.role);
  if (ds.advance) return void advance(Number(ds.advance));
  if (ds.url) { window.location.href = ds.url; return; }
  if (ds.chip) {
    const input = el.parentElement.id === "tg-chips" ? $("tg-input") : $("dc-input");
    if (ds.chip.endsWith(" ")) { input.value = ds.chip; input.focus(); } else { input.value = ds.chip; send(el.parentElement.id === "tg-chips" ? "telegram" : "discord", input); }
    return;
  }
  if (ds.msg) return void api("/api/telegram/press", { as: ui.role, message_id: Number(ds.msg), data: ds.data }).catch(() => {});
  if (ds.custom) return void api("/api/discord/click", { as: ui.role, custom_id: ds.custom, label: el.textContent }).catch(() => {});
  if (ds.action) return void api("/api/stripe/" + ds.action, { session: ds.session }).then(() => toast("Stripe sent the " + ds.action + " event"), () => {});
});
document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && ui.sheet) closeSheet(); });
$("tg-form").addEventListener("submit", (ev) => { ev.preventDefault(); send("telegram", $("tg-input")); });
$("dc-form").addEventListener("submit", (ev) => { ev.preventDefault(); send("discord", $("dc-input")); });
poll.loop();
