import { useCallback, useEffect, useState } from 'react';

export type Status = { error?: unknown; message?: string };

/** Runs an action for a form or button: on success shows `message`, on failure the site's error. */
export async function attempt(setStatus: (status: Status) => void, action: () => Promise<unknown>, message: string | (() => string)): Promise<boolean> {
  try {
    await action();
    setStatus({ message: typeof message === 'string' ? message : message() });
    return true;
  } catch (error) {
    setStatus({ error });
    return false;
  }
}

/** Loads data for a view; `reload` fetches again (keeping what is shown meanwhile). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => void; set: (value: T) => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setError(undefined);
    load().then(
      (value) => current && setData(value),
      (err: unknown) => current && setError(err),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []), set: setData };
}

/** Sets the document title for a page. */
export function useTitle(title: string | undefined): void {
  useEffect(() => {
    if (title) document.title = title;
  }, [title]);
}
