/** The pieces of `secret`, at least 4 characters long, that show in `text`. */
export function leakedPieces(text: string, secret: string): string[] {
  const found: string[] = [];
  for (let len = 4; len <= secret.length; len++)
    for (let i = 0; i + len <= secret.length; i++)
      if (text.includes(secret.slice(i, i + len))) found.push(secret.slice(i, i + len));
  return found;
}
