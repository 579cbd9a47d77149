<?xml version="1.0" encoding="UTF-8"?><!-- GML wersja 2.0 -->
<gml:FeatureCollection 
xmlns:bt="urn:gugik:specyfikacje:gmlas:dmoelPodstawowy:1.0" 
xmlns:egb="urn:gugik:specyfikacje:gmlas:ewidencjaGruntowBudynkow:1.0" 
xmlns:gml="http://www.opengis.net/gml/3.2" 
xmlns:gmd="http://www.isotc211.org/2005/gmd" 
xmlns:gco="http://www.isotc211.org/2005/gco" 
xmlns:xlink="http://www.w3.org/1999/xlink" 
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" 
xsi:schemaLocation="urn:gugik:specyfikacje:gmlas:ewidencjaGruntowBudynkow:1.0 EGB_OgolnyObiekt.xsd 
http://www.opengis.net/gml/3.2 http://schemas.opengis.net/gml/3.2.1/gml.xsd" 
gml:id="featureCollection">
<gml:featureMember>
<egb:EGB_DzialkaEwidencyjna gml:id="PL.PZGiK.1385.EGiB_3fcfb757-2b3e-4a2b-b2d3-d578e683624c_2017-03-13T13-09-47">
<gml:identifier codeSpace="http://iip.gov.pl">urn:pgik:id:PL.PZGiK.1385.EGiB:3fcfb757-2b3e-4a2b-b2d3-d578e683624c:2017-03-13T13:09:47</gml:identifier>
<egb:idIIP>
<bt:BT_Identyfikator>
<bt:lokalnyId>3fcfb757-2b3e-4a2b-b2d3-d578e683624c</bt:lokalnyId>
<bt:przestrzenNazw>PL.PZGiK.1385.EGiB</bt:przestrzenNazw>
<bt:wersjaId>2017-03-13T13:09:47</bt:wersjaId>
</bt:BT_Identyfikator>
</egb:idIIP>
<egb:startObiekt>2017-03-13T13:09:47</egb:startObiekt>
<egb:startWersjaObiekt>2017-03-13T13:09:47</egb:startWersjaObiekt>
<egb:podstawaPrawnaUtworzeniaWersjiObiekut xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:88d2ff6e-5e4f-4769-8a49-0385a61a7b57"/>
<egb:idDzialki>221101_1.0001.161/8</egb:idDzialki>
<egb:powierzchniaEwidencyjna uom="ha">0.0246</egb:powierzchniaEwidencyjna>
<egb:geometria>
<gml:Polygon gml:id="geom.504ad8cd-db78-4635-8c1f-dc4e018a96c6" srsName="urn:ogc:def:crs:EPSG::2177">
<gml:exterior>
<gml:LinearRing>
<gml:posList>6053302.31 6551749.01 6053298.79 6551750.91 6053302.19 6551757.87 6053296.48 6551760.55 6053298.36 6551764.73 6053297.24 6551765.32 6053304.66 6551778.11 6053314.29 6551772.28 6053302.31 6551749.01</gml:posList>
</gml:LinearRing>
</gml:exterior>
</gml:Polygon>
</egb:geometria>
<egb:waznoscOd nilReason="unknown" xsi:nil="true"/>
<egb:waznoscDo nilReason="inapplicable" xsi:nil="true"/>
<egb:wartoscGruntu nilReason="inapplicable" xsi:nil="true"/>
<egb:dataWyceny nilReason="inapplicable" xsi:nil="true"/>
<egb:informacjaODokladnReprezentacjiPola>1</egb:informacjaODokladnReprezentacjiPola>
<egb:nrRejestruZabytkow nilReason="missing" xsi:nil="true"/>
<egb:idRejonuStatystycznego nilReason="unknown" xsi:nil="true"/>
<egb:dzialkaObjetaFormaOchronyPrzyrody nilReason="missing" xsi:nil="true"/>
<egb:lokalizacjaDzialki2 xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:f3f8a7cf-5a94-4c95-b80d-3d51900a317f"/>
<egb:JRG2 xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:e54e0beL.PZGiK.1385.EGiB:ee82ff96-0a81-424d-a03e-1adbb8695774"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:110ae5d0-0c81-4a1b-8ea5-37e74bb25410"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:e4c9afe3-65db-4a41-a3c8-31fb02999ec4"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:90116897-9702-4ae2-80f7-fc08864417f3"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:fc53dd83-26d6-4d56-adae-4ec24b26f3ed"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:9bb6ccc7-cf54-456c-a9a6-5cb7e6827ae4"/>
<egb:punktGranicyDzialki xlinkDhref="urn:pzgik:id:PL.PZGiK.1385.EGiB:6cb46de8-d25b-4567-87cf-b63e340a3a85"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:ebaef76d-8d46-41f9-a6bd-42c2989ebecb"/>
<egb:punktGranicyDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:3f3c9dbd-02fc-4bfa-a9ad-2fa5f89871c8"/>
<egb:adresDzialki xlink:href="urn:pzgik:id:PL.PZGiK.1385.EGiB:6d78dafb-21b2-4bc6-ae6a-055361b24f9f"/>
</egb:EGB_DzialkaEwidencyjna>
</gml:featureMember>
<gml:featureMember>
<bt:KR_ObiektKarto gml:id="PL.PZGiK.1385.EGiB_ae697aae-74a3-4573-9f1b-8af1037478a4_2geometriaKarto>
<bt:katObrotu>90.0000</bt:katObrotu>
<bt:justyfikacja>7</bt:justyfikacja>
</bt:KR_Etykieta>
</bt:etykieta>
<bt:obiektPrzedstawiany>
<bt:BT_ReferencjaDoObiektu>
<bt:idIIP>
<bt:BT_Identyfikator>
<bt:lokalnyId>3fcfb757-2b3e-4a2b-b2d3-d578e683624c</bt:lokalnyId>
<bt:przestrzenNazw>PL.PZGiK.1385.EGiB</bt:przestrzenNazw>
<bt:wersjaId>2017-03-13T13:09:47</bt:wersjaId>
</bt:BT_Identyfikator>
</bt:idIIP>
</bt:BT_ReferencjaDoObiektu>
</bt:obiektPrzedstawiany>
</bt:KR_ObiektKarto>
</gml:featureMember>
</gml:FeatureCollection>