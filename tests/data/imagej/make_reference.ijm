// Reference ROIs for tests/io/test_imagej.py, made and measured by ImageJ itself.
// Run from this folder:
//   xvfb-run -a java -jar /usr/share/java/ij.jar -batch make_reference.ijm "$PWD/"
// Writes reference_rois.zip (the ROI Manager's save), contained_points.txt (for each
// ROI of that zip, reopened: "name<TAB>x,y x,y ..." from Roi.getContainedPoints)
// and line.roi (a straight line, which is no area).
dir = getArgument();
if (dir == "") exit("give the output folder, ending with /, as the argument");
newImage("reference", "8-bit black", 80, 64, 1);
roiManager("Reset");

function keep(name) {
	roiManager("Add");
	roiManager("Select", roiManager("count") - 1);
	roiManager("Rename", name);
	run("Select None");
}

makeOval(3, 2, 15, 11);                      keep("oval");
makeOval(20, 2, 12, 8);                      keep("oval even");
makeOval(34.6, 1.3, 13.5, 10.2);             keep("oval subpixel");
makeRectangle(50, 2, 20, 14, 8);             keep("rounded rectangle");
makeRectangle(72, 2, 6, 9);                  keep("rectangle");
makeRectangle(72.4, 14.6, 5.3, 4.2);         keep("rectangle subpixel");
// concave, integer vertices; the upper-left and notch edges run through pixel centres
makePolygon(6,16, 16,16, 10,22, 16,28, 2,28, 2,20);
keep("concave polygon");
// half-integer vertices: edges along rows and columns of pixel centres; one integer vertex
makeSelection("polygon", newArray(20.5, 32.5, 32.5, 27, 26.5, 20.5, 22), newArray(16.5, 16.5, 22.5, 22.5, 28.5, 28.5, 21));
keep("polygon half-integer");
xs = newArray(10); ys = newArray(10);
for (i = 0; i < 10; i++) {
	r = 8 - 5 * (i % 2);
	xs[i] = round(43 + r * cos(i * PI / 5));
	ys[i] = round(22 + r * sin(i * PI / 5));
}
makeSelection("freehand", xs, ys);           keep("freehand");
for (i = 0; i < 10; i++) {
	r = 6.3 - 3.1 * (i % 2);
	xs[i] = 57.25 + r * cos(i * PI / 5 + 0.3);
	ys[i] = 40.5 + r * sin(i * PI / 5 + 0.3);
}
makeSelection("freehand", xs, ys);           keep("freehand subpixel");
makeSelection("traced", newArray(60, 66, 66, 63, 63, 60), newArray(16, 16, 19, 19, 22, 22));
keep("traced");
makeEllipse(60, 22, 77, 31, 0.5);            keep("ellipse");
makeRotatedRectangle(4, 33, 19, 43, 6);      keep("rotated rectangle");
makeOval(24, 32, 16, 14);
run("Make Band...", "band=3");               keep("band");
makeOval(44, 48, 11, 10);
setKeyDown("shift");
makeRectangle(50, 53, 12, 9);                keep("or");
makeRectangle(66, 46, 5, 5);
setKeyDown("shift");
makeOval(72, 54, 6, 7);                      keep("or in pieces");
makeRectangle(2, 48, 18, 14);
setKeyDown("alt");
makeOval(6, 51, 9, 8);                       keep("rectangle with a hole");
// XOR of two overlapping ovals through the ROI Manager
makeOval(24, 48, 12, 12);                    keep("xor a");
makeOval(30, 50, 12, 10);                    keep("xor b");
n = roiManager("count");
roiManager("Select", newArray(n - 2, n - 1));
roiManager("XOR");
roiManager("Add");
roiManager("Select", newArray(n - 2, n - 1));
roiManager("Delete");
roiManager("Select", roiManager("count") - 1);
roiManager("Rename", "xor");
run("Select None");

roiManager("Save", dir + "reference_rois.zip");
roiManager("Reset");
roiManager("Open", dir + "reference_rois.zip");
f = File.open(dir + "contained_points.txt");
for (i = 0; i < roiManager("count"); i++) {
	roiManager("Select", i);
	Roi.getContainedPoints(px, py);
	line = Roi.getName + "\t";
	for (k = 0; k < px.length; k++)
		line = line + px[k] + "," + py[k] + " ";
	print(f, line);
}
File.close(f);
makeLine(1, 1, 20, 12);
saveAs("Selection", dir + "line.roi");
print("ImageJ " + getVersion() + ": " + roiManager("count") + " ROIs");
