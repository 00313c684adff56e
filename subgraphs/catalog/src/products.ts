import { Prisma, isUniqueViolation, type PrismaClient, type Product } from '../../../kernel/src/prisma';
import { assertUuid, isUuid } from '../../../kernel/src/ids';
import { conflict, notFound } from '../../../kernel/src/errors';
import { checkCreateInput, checkUpdateInput, type CreateProductInput, type ProductFields, type UpdateProductInput } from './product-input';
import { rememberWords, type SearchDictionary } from './search';
import type { ProductChangeListener } from './product-changes';

const isRecordNotFound = (error: unknown) => (error as { code?: string } | null)?.code === 'P2025';

/** The Prisma write shape of checked fields: a null `attributes` is SQL NULL. */
function toData<T extends Partial<ProductFields>>(fields: T) {
  const { attributes, ...rest } = fields;
  return attributes === undefined ? rest : { ...rest, attributes: attributes === null ? Prisma.DbNull : (attributes as Prisma.InputJsonObject) };
}

/**
 * The catalog's products: admins write them, everyone reads them. A deleted product is only
 * marked deleted: lookups and listings hide it, but it still resolves by id as a federation
 * entity, because an order may name it.
 */
export class ProductService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly changed: ProductChangeListener = async () => {},
    /** Told when a write may have added words, so that searches look their corrections up again. */
    private readonly dictionary?: SearchDictionary,
  ) {}

  /** By id, deleted ones included (for entity references and the per-request loader). */
  async findManyByIds(ids: readonly string[]): Promise<Map<string, Product>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.prisma.product.findMany({ where: { id: { in: valid } } }) : [];
    return new Map(rows.map((p) => [p.id, p]));
  }

  findBySku(sku: string): Promise<Product | null> {
    return this.prisma.product.findFirst({ where: { sku, deletedAt: null } });
  }

  async create(input: CreateProductInput): Promise<Product> {
    const fields = checkCreateInput(input);
    try {
      const [product] = await this.prisma.$transaction([
        this.prisma.product.create({ data: toData(fields) }),
        rememberWords(this.prisma, [fields.name, fields.category, fields.description]),
      ]);
      this.dictionary?.changed();
      await this.changed(product.id);
      return product;
    } catch (error) {
      throw this.skuTaken(error, fields.sku);
    }
  }

  async update(id: string, input: UpdateProductInput): Promise<Product> {
    assertUuid(id, 'id');
    const changes = checkUpdateInput(input);
    if (Object.keys(changes).length === 0) return this.findLive(id);
    try {
      const [product] = await this.prisma.$transaction([
        this.prisma.product.update({ where: { id, deletedAt: null }, data: toData(changes) }),
        rememberWords(this.prisma, [changes.name, changes.category, changes.description]),
      ]);
      this.dictionary?.changed();
      await this.changed(product.id);
      return product;
    } catch (error) {
      if (isRecordNotFound(error)) throw notFound('Product', id);
      throw this.skuTaken(error, changes.sku);
    }
  }

  /** Soft delete: the product leaves lookups and listings; deleting it again is NOT_FOUND. */
  async delete(id: string): Promise<Product> {
    assertUuid(id, 'id');
    try {
      const product = await this.prisma.product.update({ where: { id, deletedAt: null }, data: { deletedAt: new Date() } });
      await this.changed(product.id);
      return product;
    } catch (error) {
      if (isRecordNotFound(error)) throw notFound('Product', id);
      throw error;
    }
  }

  private async findLive(id: string): Promise<Product> {
    const product = await this.prisma.product.findFirst({ where: { id, deletedAt: null } });
    if (!product) throw notFound('Product', id);
    return product;
  }

  /** A unique violation on the SKU becomes a CONFLICT naming it; anything else passes through. */
  private skuTaken(error: unknown, sku: string | undefined): unknown {
    if (sku === undefined || !isUniqueViolation(error)) return error;
    return conflict(`The SKU "${sku}" is already used by another product (deleted products keep their SKU).`, { field: 'input.sku', sku });
  }
}
