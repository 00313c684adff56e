import { oncePerScrape } from '../src/metrics';

describe('oncePerScrape', () => {
  it('shares one reading between the gauges of a scrape, and reads afresh for the next scrape', async () => {
    let reads = 0;
    const counts = oncePerScrape(async () => {
      reads += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return reads;
    });
    // One scrape: every gauge's collector starts in the same tick.
    expect(await Promise.all([counts(), counts()])).toEqual([1, 1]);
    // The next scrape, however soon (an order placed in between must show), reads again.
    expect(await counts()).toBe(2);
  });

  it('reads again after a reading failed', async () => {
    let reads = 0;
    const counts = oncePerScrape(async () => {
      reads += 1;
      if (reads === 1) throw new Error('database down');
      return reads;
    });
    await expect(counts()).rejects.toThrow('database down');
    expect(await counts()).toBe(2);
  });
});
