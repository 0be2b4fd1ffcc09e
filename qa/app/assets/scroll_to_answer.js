
() => {
  const show = () => {
    const log = document.querySelector('#chat [role=log]');
    if (!log) return;
    const msgs = log.querySelectorAll('[data-testid=user], [data-testid=bot]');
    if (!msgs.length) return;
    const last = msgs[msgs.length - 1], prev = msgs.length > 1 ? msgs[msgs.length - 2] : null;
    const top = (el) => el.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
    let anchor = last;
    if (prev && prev.dataset.testid === 'user' && last.dataset.testid === 'bot'
        && top(last) - top(prev) < log.clientHeight / 2) anchor = prev;
    log.scrollTop = Math.max(0, top(anchor) - 8);
  };
  requestAnimationFrame(show);
  setTimeout(show, 200);
  setTimeout(show, 700);
}
