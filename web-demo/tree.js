// Reading element trees of the imps-engine package (`{ name, attributes, children }`):
// answers and server requests. Requests are built by the client's typed helpers.

/** The element children of `tree`. */
export const kids = (tree) => (tree?.children ?? []).filter((c) => typeof c !== 'string');

/** The first child named `name` (or following a path of names). */
export function child(tree, ...path) {
  let t = tree;
  for (const name of path) {
    t = kids(t).find((c) => c.name === name);
    if (!t) return undefined;
  }
  return t;
}

/** Every child named `name`. */
export const all = (tree, name) => kids(tree).filter((c) => c.name === name);

/** Every descendant named `name`, in document order. */
export function deep(tree, name, out = []) {
  for (const c of kids(tree)) {
    if (c.name === name) out.push(c);
    deep(c, name, out);
  }
  return out;
}

/** The text of `tree` (or of the child at `path`). */
export function text(tree, ...path) {
  const t = path.length ? child(tree, ...path) : tree;
  return (t?.children ?? []).filter((c) => typeof c === 'string').join('');
}

/** The `{ name: value }` of a `GroupProperties` / `ContactListProperties` tree. */
export function readProps(tree) {
  const out = {};
  for (const p of all(tree, 'Property')) out[text(p, 'Name')] = text(p, 'Value');
  return out;
}
