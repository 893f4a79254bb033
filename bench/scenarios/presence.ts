export async function presenceMain(_a: string[]): Promise<number> { return 2; }
