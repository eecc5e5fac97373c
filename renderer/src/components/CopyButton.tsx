// One copy-to-clipboard button for every value the family pastes elsewhere (DNS
// records, the SPF record and zone line). The clipboard can refuse (an insecure
// origin, a denied permission): the button then says to select the text by hand.
import { useState } from 'react';

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      setDone('failed');
    }
    setTimeout(() => setDone('idle'), 2000);
  };
  return (
    <button type="button" className="secondary small copy" onClick={() => void copy()} aria-label={label}>
      {done === 'copied' ? '✓ Copied' : done === 'failed' ? 'Select it by hand' : 'Copy'}
    </button>
  );
}
