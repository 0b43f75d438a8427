// <pintuan-group-buy>: a group buy on any page. Data over the public GraphQL API
// (HTTP for snapshots, graphql-transport-ws for changes); DOM built with
// createElement/textContent only and styles adopted as a constructed sheet, so it
// runs under a strict CSP (no eval, no inline script or style).
import { createClient } from "graphql-ws";
import { CSS } from "./styles.js";
import { text } from "./strings.js";

const SCRIPT = document.currentScript;
const API = SCRIPT && SCRIPT.src ? new URL(SCRIPT.src).origin : location.origin;
const TAG = "pintuan-group-buy";
const SHOWN_GROUPS = 3;

const GROUP = `fragment G on Group { id shareCode status size memberCount slotsLeft expiresAt
  members { user { displayName avatarUrl } } }`;
const OFFER = `fragment O on GroupBuy { id status endsAt groupSize
  soloPrice { amount currency } groupPrice { amount currency }
  product { title images } merchant { id }
  openGroups(first: ${SHOWN_GROUPS}) { edges { node { ...G } } } }`;
const BY_OFFER = `query PintuanWidgetOffer($id: ID!) { serverTime groupBuy(id: $id) { ...O } }
  ${OFFER} ${GROUP}`;
const BY_CODE = `query PintuanWidgetGroup($code: String!) { serverTime
  group(shareCode: $code) { ...G groupBuy { ...O } } } ${OFFER} ${GROUP}`;
const SETTINGS = `query PintuanWidgetSettings($id: ID!) {
  widgetSettings(merchantId: $id) { checkoutUrlTemplate defaultLocale } }`;
const ACTIVITY = `subscription PintuanWidgetActivity($id: ID!) {
  groupBuyActivity(groupBuyId: $id) { event } }`;

class Refused extends Error {}

const warn = (...args) => console.error(`[${TAG}]`, ...args);

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false)
    el.append(c instanceof Node ? c : String(c));
  return el;
}

function money(m, locale) {
  const fmt = new Intl.NumberFormat(locale, { style: "currency", currency: m.currency });
  const digits = fmt.resolvedOptions().maximumFractionDigits;
  return fmt.format(m.amount / 10 ** digits);
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function pageLocale(el) {
  const lang = (el.closest("[lang]") || document.documentElement).getAttribute("lang") || "";
  if (/^zh/i.test(lang)) return "zh-CN";
  if (/^en/i.test(lang)) return "en";
  return null;
}

function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/);
  return parts.slice(0, 2).map((p) => Array.from(p)[0] || "").join("").toUpperCase() || "?";
}

class PintuanGroupBuy extends HTMLElement {
  static get observedAttributes() {
    return ["key", "group-buy", "share-code", "locale", "theme", "ref"];
  }

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    this.root.adoptedStyleSheets = [sheet];
    this.body = h("div", { class: "card", part: "card" });
    this.live = h("div", { class: "sr", "aria-live": "polite", role: "status" });
    this.root.append(this.body, this.live);
    this.data = null;
    this.settings = null;
    this.offset = 0;
    this.run = 0;
  }

  connectedCallback() {
    this.connected = true;
    this.start();
  }

  disconnectedCallback() {
    this.connected = false;
    this.stop();
  }

  attributeChangedCallback(name, old, value) {
    // Initial attributes arrive before connectedCallback, which starts once for all.
    if (old === value || !this.connected) return;
    if (name === "theme" || name === "locale" || name === "ref") this.render();
    else this.start();
  }

  get locale() {
    const asked = this.getAttribute("locale");
    if (asked === "zh-CN" || asked === "en") return asked;
    const fromSettings = this.settings && this.settings.defaultLocale === "ZH_CN" ? "zh-CN" : "en";
    return pageLocale(this) || (this.settings ? fromSettings : "en");
  }

  t(key, ...args) {
    return text(this.locale, key, ...args);
  }

  start() {
    this.stop();
    const run = ++this.run;
    this.settings = null;
    this.key = this.getAttribute("key") || "";
    if (!this.key) return this.fail("the `key` attribute (a publishable key, pk_...) is missing.");
    if (!this.getAttribute("group-buy") && !this.getAttribute("share-code"))
      return this.fail("give a `group-buy` (an offer ID) or a `share-code` attribute.");
    this.abort = new AbortController();
    this.timer = setInterval(() => this.tick(), 1000);
    this.resync(run).then(() => this.run === run && this.data && this.subscribe(run));
  }

  stop() {
    this.run++;
    clearInterval(this.timer);
    clearTimeout(this.pending);
    if (this.abort) this.abort.abort();
    if (this.client) this.client.dispose();
    this.client = null;
  }

  async query(document, variables) {
    let res;
    try {
      res = await fetch(`${API}/graphql?key=${encodeURIComponent(this.key)}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-pintuan-key": this.key },
        body: JSON.stringify({ query: document, variables }),
        signal: this.abort.signal,
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new Refused(
        `no data: the API at ${API} refused this page's origin (${location.origin}) for key ` +
          `${this.key.slice(0, 12)}..., or could not be reached. Add ${location.origin} to ` +
          `the key's allowedOrigins (apiKeyCreate), or check the key is not revoked.`,
      );
    }
    const body = await res.json();
    if (!res.ok || body.errors) {
      const reason = body.errors ? body.errors.map((e) => e.message).join("; ") : res.status;
      throw new Refused(`the API refused the request: ${reason}`);
    }
    return body.data;
  }

  async resync(run) {
    try {
      const code = this.getAttribute("share-code");
      const data = code
        ? await this.query(BY_CODE, { code })
        : await this.query(BY_OFFER, { id: this.getAttribute("group-buy") });
      if (this.run !== run) return;
      const offer = code ? data.group && data.group.groupBuy : data.groupBuy;
      if (!offer) return this.fail(code ? `no group has the share code ${code}.` : "no such offer.");
      this.offset = Date.parse(data.serverTime) - Date.now();
      if (!this.settings) {
        const s = await this.query(SETTINGS, { id: offer.merchant.id });
        if (this.run !== run) return;
        this.settings = s.widgetSettings;
      }
      const previous = this.data;
      this.data = { offer, group: code ? data.group : null };
      this.render();
      this.announce(previous);
    } catch (err) {
      if (err.name !== "AbortError" && this.run === run) this.fail(err.message);
    }
  }

  subscribe(run) {
    let attempt = 0;
    this.client = createClient({
      url: `${API.replace(/^http/, "ws")}/graphql?key=${encodeURIComponent(this.key)}`,
      connectionParams: { apiKey: this.key },
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: async (retries) => {
        attempt = retries;
        const base = Math.min(30000, 500 * 2 ** retries);
        await new Promise((r) => setTimeout(r, base / 2 + Math.random() * (base / 2)));
      },
      on: {
        connected: () => {
          if (attempt > 0) this.soon(run); // changes made during the drop: take a snapshot
          attempt = 0;
        },
      },
    });
    const id = this.data.offer.id;
    this.client.subscribe(
      { query: ACTIVITY, variables: { id } },
      { next: () => this.soon(run), error: (e) => this.run === run && warn("live updates:", e), complete: () => {} },
    );
  }

  soon(run) {
    // A burst of events (a join, then its payment) is one snapshot.
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.run === run && this.resync(run), 50);
  }

  fail(message) {
    warn(message);
    this.data = null;
    this.body.replaceChildren(h("p", { class: "muted", part: "error" }, this.t("unavailable")));
  }

  now() {
    return Date.now() + this.offset;
  }

  tick() {
    let due = false;
    for (const el of this.root.querySelectorAll("[data-until]")) {
      const left = Date.parse(el.getAttribute("data-until")) - this.now();
      el.textContent = clock(left);
      due = due || left <= 0;
    }
    // No event announces an offer's end or a timer's: look when the clock says so.
    const offer = this.data && this.data.offer;
    if (offer && offer.status === "ACTIVE" && Date.parse(offer.endsAt) <= this.now()) due = true;
    if (due) this.soon(this.run);
    const sr = this.root.querySelector("[data-minutes]");
    if (sr) {
      const mins = Math.ceil((Date.parse(sr.getAttribute("data-minutes")) - this.now()) / 60000);
      const words = this.t("minutesLeft", Math.max(0, mins));
      if (sr.textContent !== words) sr.textContent = words;
    }
  }

  announce(previous) {
    if (!previous) return;
    const slots = (d) => (d.group ? d.group.slotsLeft : d.offer.openGroups.edges.map((e) => e.node.slotsLeft).join());
    const state = (d) => `${d.offer.status}/${d.group ? d.group.status : ""}/${slots(d)}`;
    if (state(previous) === state(this.data)) return;
    const g = this.data.group || (this.data.offer.openGroups.edges[0] || {}).node;
    this.live.textContent = g ? this.statusLine(g) : this.t("noGroups");
  }

  statusLine(group) {
    if (this.offerClosed()) return this.t("ended");
    if (group.status === "OPEN") return this.t("needed", group.slotsLeft);
    return this.t(group.status);
  }

  offerClosed() {
    const s = this.data.offer.status;
    return s === "ENDED" || s === "CANCELLED";
  }

  action(kind, group) {
    const offer = this.data.offer;
    const detail = {
      action: kind,
      groupBuyId: offer.id,
      groupId: group ? group.id : null,
      shareCode: group ? group.shareCode : null,
      ref: this.getAttribute("ref"),
    };
    const event = new CustomEvent(`pintuan:${kind}`, {
      detail, bubbles: true, composed: true, cancelable: true,
    });
    const proceed = this.dispatchEvent(event);
    const template = this.settings && this.settings.checkoutUrlTemplate;
    if (proceed && template) {
      const value = (v) => encodeURIComponent(v == null ? "" : v);
      location.assign(template.replace(/\{(action|groupBuyId|groupId|shareCode|ref)\}/g,
        (_, name) => value(detail[name])));
    }
  }

  avatars(group) {
    const faces = group.members.map((m) =>
      m.user.avatarUrl
        ? h("img", { class: "face", src: m.user.avatarUrl, alt: m.user.displayName, referrerpolicy: "no-referrer" })
        : h("span", { class: "face initials", title: m.user.displayName, "aria-label": m.user.displayName }, initials(m.user.displayName)),
    );
    const seats = group.status === "OPEN" ? group.slotsLeft : 0;
    const empty = Array.from({ length: seats }, () => h("span", { class: "face empty", "aria-hidden": "true" }, "?"));
    return h("div", { class: "faces" }, faces, empty);
  }

  groupRow(group) {
    const open = group.status === "OPEN" && !this.offerClosed();
    return h("li", { class: `group ${group.status.toLowerCase()}`, "data-status": group.status },
      this.avatars(group),
      h("div", { class: "info" },
        h("span", { class: "needed" }, this.statusLine(group)),
        open && h("span", { class: "countdown", role: "timer" },
          h("span", { "aria-hidden": "true", "data-until": group.expiresAt }, clock(Date.parse(group.expiresAt) - this.now())),
          h("span", { class: "sr", "data-minutes": group.expiresAt }))),
      open && h("button", { type: "button", class: "join", part: "join-button",
        on: { click: () => this.action("join", group) } }, this.t("join")));
  }

  render() {
    if (!this.data) return;
    const { offer, group } = this.data;
    const locale = this.locale;
    const closed = this.offerClosed();
    const groups = group ? [group] : offer.openGroups.edges.map((e) => e.node);
    const image = offer.product.images[0];
    this.setAttribute("data-state", closed ? "ENDED" : group ? group.status : "OPEN");
    this.body.replaceChildren(...[
      h("div", { class: "head" },
        image && h("img", { class: "photo", src: image, alt: "", referrerpolicy: "no-referrer" }),
        h("div", {},
          h("h3", { class: "title", part: "title" }, offer.product.title),
          h("div", { class: "prices" },
            h("span", { class: "group-price", "aria-label": this.t("groupPriceLabel") }, money(offer.groupPrice, locale)),
            h("s", { class: "solo-price", "aria-label": this.t("soloPriceLabel") }, money(offer.soloPrice, locale))),
          h("span", { class: "size" }, this.t("size", offer.groupSize)))),
      closed
        ? h("p", { class: "ended", "data-status": offer.status }, this.t("ended"))
        : groups.length
          ? h("ul", { class: "groups" }, groups.map((g) => this.groupRow(g)))
          : h("p", { class: "muted" }, this.t("noGroups")),
      !closed && !group && h("button", { type: "button", class: "start", part: "start-button",
        on: { click: () => this.action("start", null) } }, this.t("start")),
    ].filter(Boolean));
    this.tick();
  }
}

if (!customElements.get(TAG)) customElements.define(TAG, PintuanGroupBuy);
