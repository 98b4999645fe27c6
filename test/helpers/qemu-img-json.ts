/** The fields of `qemu-img info --output=json` the tests look at. */
export interface QemuImgJson {
  format: string;
  'virtual-size': number;
  'backing-filename'?: string;
}
