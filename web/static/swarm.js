// The swarm view: each window's swarm units float up across the stage, spread
// evenly over the next window length so that 2-second batches look like one
// continuous stream. Large sprites are swarm units; small ones sample the
// window's raw counts so that quiet matches still show movement.

const MAX_UNITS = 160;     // large sprites per window; more are folded together
const MAX_SAMPLES = 10;    // small sprites per emoji per window
const MAX_ON_STAGE = 500;  // sprites alive or waiting at once
const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)");

export class SwarmView {
  constructor(stage) {
    this.stage = stage;
    this.sprites = new Set(); // {el, anim} on stage
  }

  // alive is how many sprites are on stage, alive or waiting.
  get alive() {
    return this.sprites.size;
  }

  // play starts one window's sprites, each delayed so that they enter
  // evenly over the next windowMs. The browser's animation clock does the
  // timing, so the stream stays smooth even when the page's own timers lag.
  play(swarm, windowMs) {
    const sprites = [];
    const units = swarm.swarm || {};
    const counts = swarm.counts || {};
    const totalUnits = Object.values(units).reduce((a, b) => a + b, 0);
    const fold = Math.max(1, Math.ceil(totalUnits / MAX_UNITS));
    for (const [emoji, n] of Object.entries(units)) {
      for (let i = 0; i < Math.ceil(n / fold); i++) sprites.push({ emoji, big: true });
    }
    for (const [emoji, n] of Object.entries(counts)) {
      for (let i = 0; i < Math.min(n, MAX_SAMPLES); i++) sprites.push({ emoji, big: false });
    }
    shuffle(sprites);
    const step = windowMs / Math.max(1, sprites.length);
    sprites.forEach((s, i) => {
      if (this.alive < MAX_ON_STAGE) this.spawn(s, (i + Math.random()) * step);
    });
  }

  spawn({ emoji, big }, delay) {
    const el = document.createElement("span");
    el.className = big ? "sprite big" : "sprite";
    el.textContent = emoji;
    el.style.left = `${2 + Math.random() * 90}%`;
    if (reduceMotion.matches) el.style.bottom = `${5 + Math.random() * 80}%`; // fade in place
    this.stage.append(el);
    const anim = el.animate(keyframes(this.stage.clientHeight, big), {
      duration: (big ? 3200 : 2400) + Math.random() * 1200,
      delay,
      fill: "backwards",
      easing: "linear",
    });
    const sprite = { el, anim };
    this.sprites.add(sprite);
    anim.onfinish = () => {
      if (this.sprites.delete(sprite)) el.remove(); // a sprite clear() dropped is gone already
    };
  }

  // clear drops every sprite (on a match switch), its animation with it.
  clear() {
    for (const { el, anim } of this.sprites) {
      anim.cancel();
      el.remove();
    }
    this.sprites.clear();
    for (const el of this.stage.querySelectorAll(".sprite")) el.remove();
  }
}

function keyframes(height, big) {
  if (reduceMotion.matches) {
    return [{ opacity: 0 }, { opacity: 1, offset: 0.2 }, { opacity: 0 }];
  }
  const rise = -(height + 80);
  const sway = (Math.random() - 0.5) * (big ? 120 : 60);
  const s = big ? 1 : 0.8;
  return [
    { transform: `translate(0px, 0px) scale(${s * 0.5})`, opacity: 0 },
    { transform: `translate(${sway * 0.3}px, ${rise * 0.15}px) scale(${s})`, opacity: 1, offset: 0.12 },
    { transform: `translate(${sway}px, ${rise * 0.75}px) scale(${s})`, opacity: 0.9, offset: 0.75 },
    { transform: `translate(${sway * 0.8}px, ${rise}px) scale(${s * 1.1})`, opacity: 0 },
  ];
}

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}
