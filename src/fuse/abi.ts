/** The FUSE kernel ABI (protocol 7.45): constants, struct sizes and codecs. */
export * from './abi/constants.js';
export * from './abi/sizes.js';
export * from './abi/wire.js';
export * from './abi/header.js';
export * from './abi/ids.js';
export * from './abi/init.js';
export * from './abi/attr.js';
export * from './abi/requests.js';
export * from './abi/replies.js';
export * from './abi/dirent.js';
export * from './abi/notify.js';
