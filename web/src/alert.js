// The escalation alert: a tone (Web Audio, no sound files) and a banner naming the call.
let ctx = null;
export const alerts = { count: 0, muted: false };

function tone() {
  if (alerts.muted) return;
  try {
    ctx = ctx || new (window.AudioContext || window.webkitAudioContext)();
    const o = ctx.createOscillator(), g = ctx.createGain();
    o.type = 'square'; o.frequency.value = 880;
    g.gain.setValueAtTime(0.08, ctx.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.6);
    o.connect(g).connect(ctx.destination);
    o.start(); o.stop(ctx.currentTime + 0.6);
  } catch (e) { /* no audio device: the banner still shows */ }
}

let hide = null;
export function raise(text, onClick) {
  alerts.count++;
  const b = document.getElementById('alert-banner');
  b.textContent = `⚠ ${text}`;
  b.hidden = false;
  b.onclick = () => { b.hidden = true; onClick(); };
  clearTimeout(hide);
  hide = setTimeout(() => { b.hidden = true; }, 15000);
  tone();
}
