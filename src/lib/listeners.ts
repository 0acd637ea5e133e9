/**
 * The listeners of one kind of news, called in the order they were added. A publisher keeps one
 * per thing it concludes (`jobs.onFinished`, `pods.onInterrupted`) and knows nothing of who
 * listens: state tells, families and links subscribe.
 */
export class Listeners<T> {
  private readonly listeners: Array<(event: T) => void> = [];

  add(listener: (event: T) => void): void {
    this.listeners.push(listener);
  }

  emit(event: T): void {
    for (const listener of this.listeners) listener(event);
  }
}
