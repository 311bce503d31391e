// Moved to ./fixtures/helpers.ts (tap skips fixtures/ directories). This re-export keeps older
// imports working; import from './fixtures/helpers.ts' (or '../cluster/fixtures/helpers.ts').
export * from './fixtures/helpers.ts'
