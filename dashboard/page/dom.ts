/// <reference lib="dom" />
/**
 * Building the page from data: elements and text nodes only. Nothing read from a run folder is
 * ever parsed as markup (no innerHTML with data): a run named `<img onerror=…>` shows as those
 * characters, and script on the page — which holds the token and the teleop panel — stays ours.
 */

/** Element properties the page sets. */
export interface Props {
  readonly className?: string;
  readonly title?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly color?: string;
}

/** An element with text (strings become text nodes) and child elements. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.className) el.className = props.className;
  if (props.title !== undefined) el.title = props.title;
  for (const [k, v] of Object.entries(props.data ?? {})) el.dataset[k] = v;
  if (props.color) el.style.background = props.color;
  el.append(...children);
  return el;
}

/** The page's own element `sel` (from index.html); throws when the page and script disagree. */
export function q<T extends HTMLElement = HTMLElement>(sel: string, type: new () => T = HTMLElement as unknown as new () => T): T {
  const el = document.querySelector(sel);
  if (!(el instanceof type)) throw new Error(`the page has no ${sel}`);
  return el;
}
