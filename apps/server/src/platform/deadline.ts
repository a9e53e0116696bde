/** Rejects with `onLate()` when `work` has not settled within `ms`; the work goes on and its outcome is dropped. */
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  onLate: () => Error = () => new Error(`no answer within ${ms} ms`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(onLate());
    }, ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
  });
}
