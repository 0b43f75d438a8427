// Styles adopted by the shadow root as a constructed sheet (allowed by a strict CSP).
// Hosts theme the widget through --pintuan-* custom properties, which inherit into it.
export const CSS = `
:host { display: block; max-width: 420px; contain: content;
  --_bg: var(--pintuan-bg, #ffffff); --_fg: var(--pintuan-fg, #1d1d1f);
  --_muted: var(--pintuan-muted, #6e6e73); --_accent: var(--pintuan-accent, #e02e24);
  --_accent-fg: var(--pintuan-accent-fg, #ffffff); --_line: var(--pintuan-line, #e5e5ea);
  --_radius: var(--pintuan-radius, 12px);
  font: 14px/1.4 var(--pintuan-font, system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif); }
:host([theme="dark"]) { --_bg: var(--pintuan-bg, #1c1c1e); --_fg: var(--pintuan-fg, #f2f2f7);
  --_muted: var(--pintuan-muted, #a1a1a6); --_accent: var(--pintuan-accent, #ff453a);
  --_line: var(--pintuan-line, #38383a); }
.card { background: var(--_bg); color: var(--_fg); border: 1px solid var(--_line);
  border-radius: var(--_radius); padding: 16px; }
.head { display: flex; gap: 12px; align-items: flex-start; }
.photo { width: 72px; height: 72px; object-fit: cover; border-radius: calc(var(--_radius) / 2); flex: none; }
.title { margin: 0 0 4px; font-size: 16px; }
.prices { display: flex; gap: 8px; align-items: baseline; }
.group-price { color: var(--_accent); font-size: 20px; font-weight: 700; }
.solo-price, .size, .muted { color: var(--_muted); }
.size { font-size: 12px; }
.groups { list-style: none; margin: 12px 0 0; padding: 0; }
.group { display: flex; align-items: center; gap: 10px; padding: 8px 0; border-top: 1px solid var(--_line); }
.faces { display: flex; }
.face { width: 30px; height: 30px; border-radius: 50%; margin-right: 3px; border: 2px solid var(--_bg);
  display: inline-flex; align-items: center; justify-content: center; font-size: 11px; font-weight: 600;
  background: var(--_line); color: var(--_fg); object-fit: cover; }
.initials { background: var(--_accent); color: var(--_accent-fg); }
.empty { background: transparent; border: 2px dashed var(--_line); color: var(--_muted); }
.info { display: flex; flex-direction: column; flex: 1; margin-left: 8px; }
.needed { font-weight: 600; }
.filled .needed { color: #1f9d55; }
.failed .needed, .cancelled .needed, .ended { color: var(--_muted); }
.countdown { font-variant-numeric: tabular-nums; color: var(--_muted); font-size: 12px; }
button { font: inherit; border: 0; border-radius: calc(var(--_radius) * 2); cursor: pointer;
  background: var(--_accent); color: var(--_accent-fg); padding: 6px 14px; font-weight: 600;
  transition: transform .15s ease, filter .15s ease; }
button:hover { filter: brightness(1.08); }
button:active { transform: scale(.97); }
button:focus-visible { outline: 3px solid var(--_fg); outline-offset: 2px; }
.start { width: 100%; margin-top: 12px; padding: 10px; }
.ended { margin: 12px 0 0; font-weight: 600; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-reduced-motion: reduce) { button { transition: none; } button:active { transform: none; } }
`;
