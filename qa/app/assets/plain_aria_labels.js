
() => {
  const relabel = () => {
    for (const el of document.querySelectorAll('#chat [data-testid=user], #chat [data-testid=bot]')) {
      const text = (el.innerText || '').replace(/\s+/g, ' ').trim();
      const label = (el.dataset.testid === 'user' ? 'Question: ' : 'Answer: ')
        + (text.length > 300 ? text.slice(0, 300) + '…' : text);
      if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
    }
  };
  new MutationObserver(relabel).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                        attributes: true, attributeFilter: ['aria-label']});
  relabel();
}
