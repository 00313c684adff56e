/**
 * A realistic, reproducible product catalog for the catalog benchmark: categories with their own
 * nouns and features, brands, model codes, prices per category, descriptions from phrase pools.
 * The same seed gives the same catalog, so two runs measure the same data.
 */

/** mulberry32: a small, fast, seedable PRNG. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface CategorySpec {
  name: string;
  nouns: string[];
  features: string[];
  /** Minor units. */
  price: [number, number];
  attributes: Record<string, Array<string | number>>;
}

export const CATEGORIES: CategorySpec[] = [
  { name: 'Headphones', nouns: ['Headphones', 'Earbuds', 'Headset', 'Earphones'], features: ['Wireless', 'Noise Cancelling', 'Bluetooth', 'Over-Ear', 'In-Ear', 'Foldable', 'Studio', 'Gaming', 'Sports', 'Waterproof'], price: [1500, 45000], attributes: { color: ['black', 'white', 'silver', 'blue'], batteryHours: [20, 30, 40, 60] } },
  { name: 'Keyboards', nouns: ['Keyboard', 'Keypad', 'Keyboard Kit'], features: ['Mechanical', 'Wireless', 'Backlit', 'Ergonomic', 'Compact', 'Gaming', 'Silent', 'Hot-Swappable', 'Low-Profile', 'Bluetooth'], price: [2000, 25000], attributes: { layout: ['ANSI', 'ISO', 'JIS'], switches: ['red', 'brown', 'blue'] } },
  { name: 'Mice', nouns: ['Mouse', 'Trackball', 'Mouse Pad'], features: ['Wireless', 'Gaming', 'Ergonomic', 'Vertical', 'Silent', 'Lightweight', 'Rechargeable', 'Bluetooth'], price: [900, 15000], attributes: { dpi: [1600, 3200, 8000, 16000], color: ['black', 'white', 'pink'] } },
  { name: 'Monitors', nouns: ['Monitor', 'Display', 'Screen'], features: ['4K', 'Curved', 'Ultrawide', 'Gaming', 'IPS', 'OLED', 'Portable', 'HDR', '144Hz', 'USB-C'], price: [9000, 150000], attributes: { inches: [24, 27, 32, 34, 49], panel: ['IPS', 'VA', 'OLED'] } },
  { name: 'Laptops', nouns: ['Laptop', 'Notebook', 'Ultrabook', 'Chromebook'], features: ['Lightweight', 'Gaming', 'Convertible', 'Touchscreen', 'Business', 'Student', 'Thin', 'Rugged'], price: [29900, 349900], attributes: { ramGb: [8, 16, 32, 64], storageGb: [256, 512, 1024, 2048] } },
  { name: 'Tablets', nouns: ['Tablet', 'E-Reader', 'Drawing Tablet'], features: ['Lightweight', 'Waterproof', 'Kids', 'Pro', 'Mini', 'LTE', 'Stylus'], price: [7900, 129900], attributes: { inches: [8, 10, 11, 13], color: ['grey', 'silver', 'gold'] } },
  { name: 'Phone Cases', nouns: ['Phone Case', 'Cover', 'Wallet Case', 'Bumper'], features: ['Shockproof', 'Leather', 'Clear', 'Slim', 'Magnetic', 'Rugged', 'Silicone', 'Recycled'], price: [900, 6900], attributes: { color: ['black', 'clear', 'red', 'green', 'navy'], model: ['Pixel', 'Galaxy', 'iPhone'] } },
  { name: 'Chargers', nouns: ['Charger', 'Power Bank', 'Charging Stand', 'Wall Adapter'], features: ['Fast', 'USB-C', 'Wireless', 'Magnetic', 'Travel', 'Solar', 'Compact', 'Dual-Port'], price: [1200, 12000], attributes: { watts: [20, 30, 65, 100, 140] } },
  { name: 'Cables', nouns: ['Cable', 'Adapter', 'Hub', 'Dock'], features: ['USB-C', 'HDMI', 'Braided', 'Thunderbolt', 'Lightning', 'Ethernet', 'DisplayPort', 'Short'], price: [500, 29900], attributes: { lengthCm: [25, 100, 200, 300] } },
  { name: 'Speakers', nouns: ['Speaker', 'Soundbar', 'Subwoofer', 'Smart Speaker'], features: ['Bluetooth', 'Portable', 'Waterproof', 'Wireless', 'Outdoor', 'Bookshelf', 'Party', 'Voice-Controlled'], price: [2500, 89900], attributes: { color: ['black', 'white', 'teal', 'orange'], watts: [10, 20, 50, 120] } },
  { name: 'Cameras', nouns: ['Camera', 'Action Camera', 'Webcam', 'Lens', 'Tripod'], features: ['Mirrorless', 'Digital', 'Instant', 'Waterproof', '4K', 'Full-Frame', 'Compact', 'Vlogging'], price: [3900, 299900], attributes: { megapixels: [12, 20, 24, 45], mount: ['E', 'RF', 'Z', 'X'] } },
  { name: 'Smartwatches', nouns: ['Smartwatch', 'Fitness Tracker', 'Watch Band'], features: ['GPS', 'Waterproof', 'Running', 'Solar', 'Sleep-Tracking', 'Leather', 'Titanium', 'Kids'], price: [1900, 79900], attributes: { mm: [38, 41, 44, 46], color: ['black', 'silver', 'rose'] } },
  { name: 'Running Shoes', nouns: ['Running Shoes', 'Trail Shoes', 'Racing Flats', 'Sneakers'], features: ['Lightweight', 'Waterproof', 'Cushioned', 'Trail', 'Breathable', 'Carbon-Plated', 'Stability', 'Wide'], price: [4900, 24900], attributes: { size: [38, 39, 40, 41, 42, 43, 44, 45, 46], color: ['black', 'white', 'red', 'volt', 'blue'] } },
  { name: 'Hiking Boots', nouns: ['Hiking Boots', 'Walking Boots', 'Trekking Shoes'], features: ['Waterproof', 'Leather', 'Insulated', 'Lightweight', 'Gore-Tex', 'Mid-Cut', 'Vegan'], price: [7900, 29900], attributes: { size: [38, 39, 40, 41, 42, 43, 44, 45, 46], color: ['brown', 'grey', 'green'] } },
  { name: 'Jackets', nouns: ['Jacket', 'Raincoat', 'Parka', 'Fleece', 'Windbreaker'], features: ['Waterproof', 'Down', 'Insulated', 'Packable', 'Softshell', 'Hooded', 'Reflective', 'Recycled'], price: [3900, 59900], attributes: { size: ['XS', 'S', 'M', 'L', 'XL', 'XXL'], color: ['black', 'navy', 'olive', 'red'] } },
  { name: 'T-Shirts', nouns: ['T-Shirt', 'Tee', 'Tank Top', 'Polo Shirt'], features: ['Organic Cotton', 'Slim Fit', 'Oversized', 'Graphic', 'Striped', 'Merino', 'Quick-Dry', 'Vintage'], price: [900, 6900], attributes: { size: ['XS', 'S', 'M', 'L', 'XL'], color: ['white', 'black', 'grey', 'blue', 'green'] } },
  { name: 'Backpacks', nouns: ['Backpack', 'Daypack', 'Laptop Bag', 'Duffel Bag', 'Messenger Bag'], features: ['Waterproof', 'Leather', 'Anti-Theft', 'Rolltop', 'Hiking', 'Travel', 'Canvas', 'Minimalist'], price: [2900, 34900], attributes: { litres: [15, 20, 25, 30, 40], color: ['black', 'grey', 'tan', 'olive'] } },
  { name: 'Coffee Makers', nouns: ['Coffee Maker', 'Espresso Machine', 'French Press', 'Coffee Grinder', 'Pour-Over Kettle'], features: ['Programmable', 'Stainless Steel', 'Automatic', 'Manual', 'Burr', 'Single-Serve', 'Thermal', 'Barista'], price: [1900, 149900], attributes: { cups: [1, 4, 8, 12], color: ['black', 'steel', 'cream'] } },
  { name: 'Kettles', nouns: ['Kettle', 'Electric Kettle', 'Tea Kettle', 'Gooseneck Kettle'], features: ['Stainless Steel', 'Glass', 'Temperature Control', 'Cordless', 'Whistling', 'Quiet', 'Rapid-Boil'], price: [1900, 14900], attributes: { litres: [0.8, 1, 1.5, 1.7], color: ['black', 'white', 'steel', 'copper'] } },
  { name: 'Blenders', nouns: ['Blender', 'Juicer', 'Food Processor', 'Hand Blender'], features: ['High-Speed', 'Personal', 'Cordless', 'Vacuum', 'Cold-Press', 'Stainless Steel', 'Compact'], price: [2900, 59900], attributes: { watts: [300, 600, 1000, 1500], color: ['black', 'white', 'red'] } },
  { name: 'Cookware', nouns: ['Frying Pan', 'Saucepan', 'Dutch Oven', 'Wok', 'Cookware Set', 'Skillet'], features: ['Non-Stick', 'Cast Iron', 'Stainless Steel', 'Ceramic', 'Induction', 'Copper', 'Enamelled', 'Oven-Safe'], price: [1900, 49900], attributes: { diameterCm: [20, 24, 28, 30] } },
  { name: 'Desk Lamps', nouns: ['Desk Lamp', 'Floor Lamp', 'Light Bar', 'Reading Light'], features: ['LED', 'Dimmable', 'Adjustable', 'Smart', 'Clamp', 'Rechargeable', 'Architect', 'Wireless Charging'], price: [1900, 24900], attributes: { kelvin: [2700, 4000, 6500], color: ['black', 'white', 'brass'] } },
  { name: 'Office Chairs', nouns: ['Office Chair', 'Gaming Chair', 'Stool', 'Kneeling Chair'], features: ['Ergonomic', 'Mesh', 'Leather', 'Reclining', 'Lumbar Support', 'Adjustable', 'Swivel', 'Heavy-Duty'], price: [7900, 149900], attributes: { color: ['black', 'grey', 'white', 'blue'] } },
  { name: 'Water Bottles', nouns: ['Water Bottle', 'Tumbler', 'Flask', 'Travel Mug'], features: ['Insulated', 'Stainless Steel', 'Leakproof', 'BPA-Free', 'Collapsible', 'Filtered', 'Glass'], price: [900, 5900], attributes: { ml: [350, 500, 750, 1000], color: ['black', 'white', 'mint', 'coral', 'blue'] } },
  { name: 'Yoga Mats', nouns: ['Yoga Mat', 'Exercise Mat', 'Yoga Block', 'Resistance Bands'], features: ['Non-Slip', 'Extra Thick', 'Cork', 'Travel', 'Eco-Friendly', 'Foldable', 'Natural Rubber'], price: [900, 14900], attributes: { mm: [3, 4, 6, 8], color: ['purple', 'black', 'green', 'sand'] } },
  { name: 'Board Games', nouns: ['Board Game', 'Card Game', 'Puzzle', 'Strategy Game', 'Party Game'], features: ['Family', 'Cooperative', 'Two-Player', 'Kids', 'Classic', 'Deluxe Edition', 'Travel'], price: [900, 12900], attributes: { players: ['1-4', '2-6', '2', '3-8'], minAge: [6, 8, 10, 14] } },
];

const BRANDS = [
  'Auralis', 'Nordvik', 'Kestrel', 'Lumio', 'Vantor', 'Brisa', 'Corvan', 'Helix', 'Orbita', 'Pexa', 'Quanta', 'Rivo', 'Solace', 'Tundra',
  'Umbra', 'Veloce', 'Wavecrest', 'Xenon', 'Yonder', 'Zephyr', 'Alder', 'Basalt', 'Cinder', 'Drift', 'Ember', 'Fjord', 'Granite',
  'Harbor', 'Ironbark', 'Juniper', 'Kinetic', 'Larkspur', 'Meridian', 'Northstar', 'Oakline', 'Pinnacle', 'Quarry', 'Redwood', 'Summit', 'Trailhead',
];
const MATERIALS = ['aluminium', 'recycled plastic', 'stainless steel', 'full-grain leather', 'organic cotton', 'bamboo', 'ripstop nylon', 'carbon fibre', 'tempered glass', 'natural rubber'];
const USES = ['everyday use', 'travel', 'the office', 'outdoor adventures', 'the gym', 'long gaming sessions', 'home cooking', 'the daily commute', 'weekend trips', 'small spaces'];
const CLAIMS = [
  'Two-year warranty.', 'Free returns within 30 days.', 'Ships in recyclable packaging.', 'Available in several colours.', 'Award-winning design.',
  'Compatible with most devices.', 'Easy to clean.', 'Tested for durability.', 'Designed in Copenhagen.', 'Loved by reviewers.', 'Our bestseller.',
  'Replacement parts available.', 'Setup takes minutes.', 'Quiet and efficient.', 'Made to last.',
];

export interface SeedProduct {
  sku: string;
  name: string;
  description: string;
  category: string;
  priceAmount: number;
  attributes: Record<string, string | number>;
  images: string[];
  inStock: boolean;
  createdAt: string;
}

/** Product number `i` of the catalog for `random` (call in order with one generator). */
export function seedProduct(i: number, random: () => number, now = Date.now()): SeedProduct {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const category = pick(CATEGORIES);
  const brand = pick(BRANDS);
  const noun = pick(category.nouns);
  const [first, second] = [pick(category.features), pick(category.features)];
  const features = first === second || random() < 0.5 ? [first] : [first, second];
  const model = `${String.fromCharCode(65 + Math.floor(random() * 26))}${Math.floor(10 + random() * 990)}`;
  const name = `${brand} ${features.join(' ')} ${noun} ${model}`;
  const extra = pick(category.features).toLowerCase();
  const description = [
    `A ${extra} ${noun.toLowerCase()} made of ${pick(MATERIALS)} for ${pick(USES)}.`,
    `${pick(CLAIMS)} ${pick(CLAIMS)}`,
    random() < 0.5 ? `Pairs well with the ${pick(BRANDS)} ${pick(pick(CATEGORIES).nouns).toLowerCase()}.` : '',
  ]
    .join(' ')
    .trim();
  const [low, high] = category.price;
  const priceAmount = Math.round((low + (high - low) * random() ** 2) / 100) * 100 - 1; // x.99 prices, more cheap than dear
  const attributes = Object.fromEntries(Object.entries(category.attributes).map(([key, values]) => [key, pick(values)]));
  const sku = `BENCH-${String(i).padStart(7, '0')}`;
  return {
    sku,
    name,
    description,
    category: category.name,
    priceAmount: Math.max(priceAmount, 99),
    attributes,
    images: [`https://cdn.example.com/products/${sku.toLowerCase()}/1.jpg`, `https://cdn.example.com/products/${sku.toLowerCase()}/2.jpg`],
    inStock: random() < 0.7,
    createdAt: new Date(now - Math.floor(random() * 365 * 24 * 3600 * 1000)).toISOString(),
  };
}

/** What shoppers type, with the category they browse: some misspelt, some two words, some a prefix. */
export const SEARCHES: Array<{ search: string; category: string; kind?: 'typo' | 'prefix' }> = [
  { search: 'wireless', category: 'Headphones' },
  { search: 'noise cancelling', category: 'Headphones' },
  { search: 'hedphones', kind: 'typo', category: 'Headphones' },
  { search: 'bluetooth earbuds', category: 'Headphones' },
  { search: 'mechanical', category: 'Keyboards' },
  { search: 'keybaord', kind: 'typo', category: 'Keyboards' },
  { search: 'ergonomic wireless', category: 'Keyboards' },
  { search: 'gaming mouse', category: 'Mice' },
  { search: 'vertcal', kind: 'typo', category: 'Mice' },
  { search: '4k monitor', category: 'Monitors' },
  { search: 'ultrawide curved', category: 'Monitors' },
  { search: 'lightweight laptop', category: 'Laptops' },
  { search: 'chromebok', kind: 'typo', category: 'Laptops' },
  { search: 'leather case', category: 'Phone Cases' },
  { search: 'shockprof', kind: 'typo', category: 'Phone Cases' },
  { search: 'usb c', category: 'Chargers' },
  { search: 'power bank', category: 'Chargers' },
  { search: 'braided hdmi cable', category: 'Cables' },
  { search: 'portable speaker', category: 'Speakers' },
  { search: 'waterproof bluetooth', category: 'Speakers' },
  { search: 'mirrorless camera', category: 'Cameras' },
  { search: 'gps running', category: 'Smartwatches' },
  { search: 'trail runing', kind: 'typo', category: 'Running Shoes' },
  { search: 'cushioned', category: 'Running Shoes' },
  { search: 'waterprof boots', kind: 'typo', category: 'Hiking Boots' },
  { search: 'down jacket', category: 'Jackets' },
  { search: 'organic cotton', category: 'T-Shirts' },
  { search: 'anti-theft backpack', category: 'Backpacks' },
  { search: 'espreso', kind: 'typo', category: 'Coffee Makers' },
  { search: 'burr grinder', category: 'Coffee Makers' },
  { search: 'stainless steel kettle', category: 'Kettles' },
  { search: 'blendr', kind: 'typo', category: 'Blenders' },
  { search: 'cast iron', category: 'Cookware' },
  { search: 'non-stick pan', category: 'Cookware' },
  { search: 'dimmable led', category: 'Desk Lamps' },
  { search: 'ergonomic chair', category: 'Office Chairs' },
  { search: 'insulated bottle', category: 'Water Bottles' },
  { search: 'cork yoga', category: 'Yoga Mats' },
  { search: 'cooperative family', category: 'Board Games' },
  { search: 'strat', kind: 'prefix', category: 'Board Games' },
];
