import { useEffect, useRef } from 'react';
import type { Post } from './api';
import { safeImageUrl } from './components';

type Attachment = NonNullable<Post['attachments']>[number];

/**
 * An image at full size over the page, with its description (alt text) written out for everyone.
 * Escape, the Close button or a click outside closes it; focus returns where it was.
 */
export function ImageViewer({ image, onClose }: { image: Attachment; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      before?.focus();
    };
  }, [onClose]);
  const src = safeImageUrl(image.url);
  return (
    <div className="lightbox" role="dialog" aria-modal="true" aria-label="Image" onClick={(e) => e.target === e.currentTarget && onClose()}>
      {src && <img src={src} alt={image.alt} width={image.width} height={image.height} />}
      <p>{image.alt ? image.alt : 'No description was given for this image.'}</p>
      <button type="button" ref={close} onClick={onClose}>Close</button>
    </div>
  );
}
